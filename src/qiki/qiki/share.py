"""Where the installed package keeps its shared files (share/qiki): the config/ directory."""
from __future__ import annotations

from pathlib import Path

from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

from qiki.graph import ConfigError


def config_dir() -> Path:
    """The installed config/ directory (share/qiki/config)."""
    try:
        return Path(get_package_share_directory("qiki")) / "config"
    except PackageNotFoundError:
        raise ConfigError("package 'qiki' is not installed: run scripts/setup.sh") from None
