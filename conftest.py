"""Put the source tree of every workspace package first on sys.path so unit tests run without a build, and the
shared test helpers (tests/unit/fuzz_inputs.py, file_errors.py) on it for the tests in each package's test/."""
import pathlib
import sys

_SRC = pathlib.Path(__file__).parent / "src"
for _pkg in sorted(_SRC.iterdir()):
    if (_pkg / "setup.py").exists():
        sys.path.insert(0, str(_pkg))
sys.path.insert(0, str(pathlib.Path(__file__).parent / "tests" / "unit"))

# Property tests run the same examples on every machine and every run (no example database, derandomized):
# CI must be green first time, every time, and a failure found once is found again.
from hypothesis import settings  # noqa: E402

settings.register_profile("qiki", derandomize=True, database=None)
settings.load_profile("qiki")
