"""One QIKI graph per ROS domain: the domain id a command runs on, checked before any process starts.

Two graphs on one domain mix silently (each node takes the other graph's messages), so `qiki run` and
`qiki bringup` look for a graph already there: this machine's node processes (/proc, instant) and any
DDS participant on loopback that has a node in the graph's namespace or publishes one of its topics
(rclpy graph API from a temporary node, bounded wait). A domain given explicitly (--domain-id or
$ROS_DOMAIN_ID) that is busy is refused; with neither, the first free domain from 0 up is chosen.

A graph split over machines (`--nodes`) shares its domain with its other part: then only a node of the same
name, or a publisher of a topic only our nodes publish, makes the domain busy.
"""
from __future__ import annotations

import os
import re
import time
from typing import Callable, Iterable, Mapping

DOMAIN_MAX = 232        # Fast DDS on loopback: a larger id gives a port above 65535 (participant creation fails)
DISCOVERY_WAIT_S = 1.5  # how long a free domain is listened to before it is called free
AUTO_CANDIDATES = 16    # domains tried from 0 up when none is given


class DomainError(ValueError):
    """A domain id that is not one, or a domain another QIKI graph is using; str() is one line."""


def parse_domain(value: object, source: str) -> int:
    """A ROS domain id from `--domain-id` or `$ROS_DOMAIN_ID` (source says which), checked: 0..DOMAIN_MAX."""
    text = str(value).strip()
    if not (re.fullmatch(r"[0-9]+", text) and int(text) <= DOMAIN_MAX):
        raise DomainError(f"{source} {value!r} is not a ROS domain id: give a whole number in 0..{DOMAIN_MAX} "
                          f"(Fast DDS cannot open the ports of a larger one)")
    return int(text)


def requested_domain(arg: int | None, environ: Mapping[str, str]) -> int | None:
    """The domain the user asked for (--domain-id beats $ROS_DOMAIN_ID), validated; None if neither is set."""
    if arg is not None:
        return parse_domain(arg, "--domain-id")
    if environ.get("ROS_DOMAIN_ID", "").strip():
        return parse_domain(environ["ROS_DOMAIN_ID"], "$ROS_DOMAIN_ID")
    return None


def first_free(candidates: Iterable[int], occupant: Callable[[int], str | None]) -> int | None:
    """The first candidate domain whose occupant(domain) is None (nobody there), or None if all are busy."""
    for domain in candidates:
        if occupant(domain) is None:
            return domain
    return None


def local_graph_pids(domain: int, namespace: str, own_pids: set[int] = frozenset(),
                     nodes: Iterable[str] | None = None) -> list[int]:
    """This machine's live node processes of a QIKI graph in `namespace` on `domain` (not ours); with `nodes`,
    only those running one of these node names."""
    from qiki.supervisor import graph_processes
    # a fleet's node `alpha/radar` runs as __node:=radar in __ns:=/<namespace>/alpha
    names = None if nodes is None else {(f"__node:={n.rpartition('/')[2]}",
                                         "__ns:=" + "/".join(["", namespace, *n.split("/")[:-1]])) for n in nodes}
    return sorted(pid for pid, dom, cmd in graph_processes()
                  if dom == domain and pid not in own_pids and "--ros-args" in cmd and f"__ns:=/{namespace}" in cmd
                  and (names is None or any(node in cmd.split() and ns in cmd.split() for node, ns in names)))


def discovered_graph(domain: int, namespace: str, topics: Iterable[str], wait_s: float = DISCOVERY_WAIT_S,
                     nodes: Iterable[str] | None = None) -> str | None:
    """What DDS discovery finds of a QIKI graph on `domain` within wait_s: 'node /qiki/sim' (with `nodes`: only
    one of these names) or 'publisher of /qiki/tracks', or None. A temporary node in a private context does the
    looking, with the discovery range every process of the project gets (qiki_ros.discovery)."""
    import rclpy

    from qiki_ros.discovery import discovery_env
    from qiki_ros.spin_thread import private_context
    prefix = f"/{namespace}"
    watched = set(topics)
    names = None if nodes is None else set(nodes)
    os.environ.update(discovery_env(os.environ))
    context = private_context(domain_id=domain)
    node = rclpy.create_node("qiki_domain_probe", context=context, start_parameter_services=False,
                             enable_rosout=False)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            for name, ns in node.get_node_names_and_namespaces():
                # a fleet's vehicle nodes live in /<namespace>/<vehicle>: named `<vehicle>/<node>` in `nodes`
                if (ns == prefix or ns.startswith(prefix + "/")) and (
                        names is None or f"{ns[len(prefix) + 1:]}/{name}".lstrip("/") in names):
                    return f"node {ns}/{name}"
            for topic, _ in node.get_topic_names_and_types():
                if topic in watched and node.count_publishers(topic):
                    return f"publisher of {topic}"
            if time.monotonic() >= deadline:   # rclpy has no wait on a graph change: poll it
                return None
            time.sleep(0.05)
    finally:
        node.destroy_node()
        rclpy.shutdown(context=context)


def occupant(domain: int, graph, wait_s: float = DISCOVERY_WAIT_S, nodes: Iterable[str] | None = None) -> str | None:
    """Who holds `domain` for a QIKI graph (`graph`: qiki.graph.GraphSpec), or None if it is free. `nodes`: we
    start only these (the rest of the graph runs elsewhere on this domain), so only a node of one of these
    names or a publisher of a topic only they publish (not /qiki/events, which every node does) is in the way."""
    pids = local_graph_pids(domain, graph.namespace, {os.getpid()}, nodes)
    if pids:
        return f"node processes {', '.join(map(str, pids[:5]))}{' ...' if len(pids) > 5 else ''} on this machine"
    topics = [t.name for t in graph.topics if t.name.startswith(f"/{graph.namespace}/")
              and (nodes is None or all(p.partition(".")[0] in nodes for p in t.pub))]   # a part's own topics
    return discovered_graph(domain, graph.namespace, topics, wait_s, nodes)


def graph_domain(arg: int | None, environ: Mapping[str, str], graph, prog: str,
                 find: Callable[[int], str | None] | None = None, nodes: Iterable[str] | None = None) -> tuple[int, bool]:
    """The domain a new graph runs on, and whether it was chosen here (then the caller says which). `nodes`:
    the part of the graph started here (None: all of it); a part needs its domain given, as every part does.

    Raises DomainError (one line, naming the domain and the fix) if the requested domain is invalid or busy,
    or if no domain is free among the first AUTO_CANDIDATES."""
    nodes = None if nodes is None else tuple(nodes)
    find = find or (lambda d: occupant(d, graph, nodes=nodes))
    asked = requested_domain(arg, environ)
    if asked is None and nodes is not None:
        raise DomainError(f"{prog} --nodes starts part of the graph: give every machine the same domain "
                          f"(--domain-id N or $ROS_DOMAIN_ID, 0..{DOMAIN_MAX})")
    if asked is not None:
        who = find(asked)
        if who is not None:
            raise DomainError(f"ROS domain {asked} already has a QIKI graph ({who}): two graphs on one domain mix "
                              f"their messages; stop it, or choose another domain (--domain-id N, e.g. "
                              f"{prog} --domain-id {(asked + 1) % (DOMAIN_MAX + 1)}), or leave both "
                              f"--domain-id and $ROS_DOMAIN_ID unset to get a free one")
        return asked, False
    free = first_free(range(AUTO_CANDIDATES), find)
    if free is None:
        raise DomainError(f"ROS domains 0..{AUTO_CANDIDATES - 1} all have a QIKI graph: give a free one with "
                          f"--domain-id N (0..{DOMAIN_MAX})")
    return free, True
