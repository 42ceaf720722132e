"""qiki_ros.parent_death.exit_with: a process ends as soon as another (not its parent) ends, even by SIGKILL."""
import subprocess
import sys

from qiki_ros.parent_death import ORPHAN_EXIT_CODE

WATCHER = """
import sys, threading
from qiki_ros.parent_death import exit_with
exit_with(int(sys.argv[1]))
print("armed", flush=True)
threading.Event().wait()       # forever, unless exit_with ends the process
"""


def test_a_process_ends_when_the_one_it_works_for_is_killed():
    target = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    watcher = subprocess.Popen([sys.executable, "-c", WATCHER, str(target.pid)], stdout=subprocess.PIPE, text=True)
    try:
        assert watcher.stdout.readline().strip() == "armed"
        assert watcher.poll() is None
        target.kill()
        target.wait(timeout=30)
        assert watcher.wait(timeout=30) == ORPHAN_EXIT_CODE
    finally:
        for p in (target, watcher):
            p.kill()
            p.wait()
        watcher.stdout.close()


def test_a_process_ends_at_once_when_that_one_is_already_gone():
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    watcher = subprocess.run([sys.executable, "-c", WATCHER, str(gone.pid)], capture_output=True, text=True,
                             timeout=60)
    assert watcher.returncode == ORPHAN_EXIT_CODE and "armed" not in watcher.stdout
