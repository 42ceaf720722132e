# The two commands of the README. Both run scripts/setup.sh first (idempotent: venv, pinned wheels,
# colcon build), so they work on a fresh clone with nothing sourced.
.PHONY: setup run test bench

setup:
	@bash scripts/setup.sh

run: setup
	@.venv/bin/qiki run --record

test: setup
	@.venv/bin/python -m pytest

bench: setup   # every benchmark in turn, with its defaults (tens of minutes; bench/soak.py is separate)
	@for b in bench/bench_*.py; do echo "== $$b"; .venv/bin/python $$b || exit 1; done
