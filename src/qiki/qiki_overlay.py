"""Make the colcon install/ overlay usable from the venv without sourcing setup scripts.

Called from a ``.pth`` file that scripts/setup.sh writes into the venv: it runs at interpreter start,
before the ROS wheels' bootstrap re-executes Python with LD_LIBRARY_PATH, so the environment set here
reaches the re-executed interpreter and every child process (the graph's nodes).
"""
import os


def _prepend(var: str, *paths: str) -> None:
    parts = [p for p in os.environ.get(var, "").split(os.pathsep) if p]
    for path in reversed(paths):
        if path not in parts:
            parts.insert(0, path)
    os.environ[var] = os.pathsep.join(parts)


def activate(install_prefix: str, venv_prefix: str) -> None:
    """Expose install_prefix (the workspace) and venv_prefix (the ROS wheels) to ament and the loader."""
    _prepend("AMENT_PREFIX_PATH", install_prefix, venv_prefix)
    _prepend("LD_LIBRARY_PATH", os.path.join(install_prefix, "lib"))
    _prepend("PATH", os.path.join(venv_prefix, "bin"))
    os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
