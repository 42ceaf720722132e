#!/usr/bin/env bash
# Idempotent setup: venv in .venv/, pinned wheels, wheel CMake path fix, colcon build (--symlink-install: the
# installed Python modules are links into src/, so an edit there is what runs), `qiki` entry point.
# Every step is skipped when its inputs have not changed since the last run.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST

log() { printf '[setup] %s\n' "$*" >&2; }
hash_of() { cat "$@" 2>/dev/null | sha256sum | cut -c1-16; }

# 1. venv
if [ ! -x "$PY" ]; then
  log "creating venv in .venv/"
  python3 -m venv "$VENV"
fi
SITE=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
PYVER=$("$PY" -c 'import sys; print(f"python{sys.version_info[0]}.{sys.version_info[1]}")')

# 2. pinned wheels
req_hash=$(hash_of requirements.txt)
if [ "$(cat "$VENV/.qiki-requirements" 2>/dev/null)" != "$req_hash" ]; then
  log "installing pinned wheels (requirements.txt)"
  "$PY" -m pip install --quiet --disable-pip-version-check -r requirements.txt
  echo "$req_hash" > "$VENV/.qiki-requirements"
fi

# 3. The wheels' exported CMake files name the include dirs of the machine that built them;
#    point them at this interpreter's Python and numpy headers (inside the venv only).
py_inc=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
np_inc=$("$PY" -c 'import numpy; print(numpy.get_include())')
stale=$(grep -rlF '/opt/python/cp311-cp311/' "$VENV/share" --include='*.cmake' || true)
if [ -n "$stale" ]; then
  log "fixing $(echo "$stale" | wc -l) wheel CMake export files"
  echo "$stale" | xargs sed -i \
    -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#${np_inc}#g" \
    -e "s#/opt/python/cp311-cp311/include/python3.11#${py_inc}#g"
fi

# 4. colcon build of the workspace (merge install in install/, symlinked). A copy-install tree left by an older
#    setup is rebuilt from scratch (colcon cannot turn copied files into links).
if [ -d install ] && [ ! -e install/.qiki-symlink ]; then
  log "replacing the copy install by a symlink install"
  rm -rf build install
fi
src_hash=$(find src launch config colcon.meta -type f -not -path '*/__pycache__/*' -not -path 'src/*/test/*' -print0 \
  | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
if [ "$(cat install/.qiki-src 2>/dev/null)" != "$src_hash" ] || [ ! -d install ]; then
  log "colcon build"
  (
    export AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV" PATH="$VENV/bin:$PATH"
    "$VENV/bin/colcon" --log-base log build --merge-install --symlink-install --base-paths src \
      --metas colcon.meta --event-handlers console_direct- summary+ \
      --cmake-args -DPython3_EXECUTABLE="$PY" -DBUILD_TESTING=OFF 2>&1 \
      | grep -v "local_setup" >&2
    exit "${PIPESTATUS[0]}"
  )
  echo "$src_hash" > install/.qiki-src
  touch install/.qiki-symlink
fi

# 5. Make the workspace importable from the venv without sourcing anything: a .pth file puts
#    install/ and the symlinked build/<pkg> trees (what each <pkg>.egg-link names: the modules link to src/,
#    the egg-info holds the entry points) on sys.path and exports AMENT_PREFIX_PATH / LD_LIBRARY_PATH before
#    the ROS wheels' own bootstrap re-executes the interpreter with them.
{
  echo "$ROOT/install/lib/$PYVER/site-packages"
  for link in "$ROOT"/install/lib/"$PYVER"/site-packages/*.egg-link; do head -n 1 "$link"; done
  echo "import qiki_overlay; qiki_overlay.activate(\"$ROOT/install\", \"$VENV\")"
} > "$SITE/qiki_overlay.pth"
cat > "$VENV/bin/qiki" <<SH
#!$PY
import sys
from qiki.cli import main
sys.exit(main())
SH
chmod +x "$VENV/bin/qiki"
