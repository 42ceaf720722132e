"""Which topics a recording takes: the default patterns and the `--topics` / `--exclude` / `--all` choice.
No rclpy: the core engine's recording (qiki.core_recording) chooses the same topics as the graph's recorder."""
from __future__ import annotations

import fnmatch
from collections.abc import Iterable

DEFAULT_TOPICS = ("/qiki/*", "/clock", "/diagnostics")


def topic_wanted(topic: str, patterns: Iterable[str], exclude: Iterable[str] = (), all_topics: bool = False) -> bool:
    """Whether a recorder given these ``--topics`` patterns (fnmatch), ``--exclude`` and ``--all`` records `topic`."""
    if any(fnmatch.fnmatchcase(topic, p) for p in exclude):
        return False
    if all_topics:
        return not topic.startswith(("/rosout", "/parameter_events"))
    return any(fnmatch.fnmatchcase(topic, p) for p in patterns)
