"""Start the graph's nodes as separate processes and stop them all, whatever happens to us.

Each node runs in its own session (so a terminal Ctrl-C reaches only the supervisor, which then
stops the nodes in order, as `ros2 launch` does) and with PR_SET_PDEATHSIG (qiki_ros.parent_death), so
the kernel sends it SIGTERM even if the supervisor is killed outright, and the node's lock-free stop
handler (qiki_ros.stop_signal) ends it. No node or spare outlives the supervisor. A node that dies on its
own is restarted as its graph.yaml `restart` policy allows (`restart_dead()`), and every restart is
recorded. A node with `restart.standby` gets a warm spare (`keep_standbys()`): the same command in
standby (qiki_ros.entrypoint), which `restart_dead()` tells to take over instead of starting afresh.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from ament_index_python.packages import PackageNotFoundError, get_package_prefix

from qiki.graph import ConfigError, GraphSpec, NodeSpec
from qiki.share import config_dir
from qiki_ros.discovery import discovery_env, profiles_env
from qiki_ros.parent_death import die_with_parent
from qiki_ros.process_start import start_ticks

STANDBY_DELAY_S = 3.0   # a spare starts this long after its node: the graph's own start-up has the CPU first


def graph_processes() -> list[tuple[int, int, str]]:
    """(pid, ROS_DOMAIN_ID, command line) of every live process of this project on the machine (command
    line mentions qiki, ROS_DOMAIN_ID in its environment): one pass over /proc."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            env = (proc / "environ").read_bytes().split(b"\0")
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = next((ln for ln in (proc / "status").read_text().splitlines() if ln.startswith("State:")), "")
        except (OSError, StopIteration):
            continue
        domain = next((v[len(b"ROS_DOMAIN_ID="):] for v in env if v.startswith(b"ROS_DOMAIN_ID=")), b"")
        if domain.isdigit() and "qiki" in cmd and "zombie" not in state:
            found.append((int(proc.name), int(domain), cmd.strip()))
    return found


def processes_in_domain(domain_id: int) -> list[tuple[int, str]]:
    """(pid, command line) of the live project processes started for ROS_DOMAIN_ID=domain_id, oldest
    first: a node's running process comes before its standby, which starts later."""
    return sorted(((pid, cmd) for pid, domain, cmd in graph_processes() if domain == domain_id),
                  key=lambda pc: _start_ticks(pc[0]))


def _start_ticks(pid: int) -> int:
    try:
        return start_ticks(pid)
    except (OSError, IndexError, ValueError):   # exited meanwhile
        return 0


def graph_env(domain_id: int | None) -> dict[str, str]:
    """Environment of every process the project starts: loopback discovery unless the environment asks for
    another range explicitly (qiki_ros.discovery), the project's Fast DDS profile (config/fastdds.xml) unless it
    names its own, its own domain."""
    env = dict(os.environ)
    env.update(discovery_env(os.environ))
    env.update(profiles_env(os.environ, config_dir() / "fastdds.xml"))
    if domain_id is not None:
        env["ROS_DOMAIN_ID"] = str(domain_id)
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("RCUTILS_COLORIZED_OUTPUT", "0")
    return env


def node_command(graph: GraphSpec, node: NodeSpec, params_file: Path, overrides: dict[str, str]) -> list[str]:
    """Command line of one node: executable from the ament index, node name, namespace, params, remaps."""
    try:
        exe = Path(get_package_prefix(node.package)) / "lib" / node.package / node.executable
    except PackageNotFoundError:
        raise ConfigError(f"node '{node.name}': package '{node.package}' is not installed "
                          "(run scripts/setup.sh)") from None
    cmd = [str(exe), "--ros-args", "-r", f"__node:={node.ros_name}", "-r", f"__ns:={graph.node_namespace(node.name)}",
           "--params-file", str(params_file), "-p", f"use_sim_time:={str(node.use_sim_time).lower()}"]
    for key, value in overrides.items():
        cmd += ["-p", f"{key}:={value}"]
    for port, topic in graph.remappings(node.name):
        cmd += ["-r", f"{port}:={topic}"]
    return cmd


@dataclass
class Restart:
    """One restart of a node: why and when (wall seconds since the graph started)."""
    node: str
    exit_code: int            # negative: killed by that signal
    wall_s: float
    attempt: int              # 1 for the node's first restart
    standby: bool = False     # its warm standby took over (no start-up, no discovery)


@dataclass
class NodeProcess:
    spec: NodeSpec
    cmd: list[str]
    log_path: Path | None
    popen: subprocess.Popen | None = None
    stopped_by_us: bool = False
    restart_times: list[float] = field(default_factory=list)   # monotonic times of its restarts
    spare: subprocess.Popen | None = None     # warm standby (restart.standby), waiting for `go` on stdin
    spare_due: float = 0.0                    # monotonic time to start the next spare
    _log: object = field(default=None, repr=False)

    def last_lines(self, n: int = 3) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        lines = [ln for ln in self.log_path.read_text(errors="replace").splitlines() if ln.strip()]
        return " | ".join(lines[-n:])


class GraphSupervisor:
    """Owns the node processes of one graph run."""

    def __init__(self, commands: list[tuple[NodeSpec, list[str]]], env: dict[str, str], log_dir: Path | None,
                 restart_args: list[str] = (), standby: bool = False):
        self.env = env
        self.standby = standby                   # keep warm spares of the nodes whose policy asks for one
        self.restart_args = list(restart_args)   # appended to the command line of a restart (and a spare)
        self.t0 = time.monotonic()
        # stdout (the run's log file, or the terminal) is the node's log: no rcl log file per process in
        # ~/.ros/log, which nothing would ever clean up
        self.procs = [NodeProcess(spec, cmd + ["--disable-external-lib-logs"],
                                  log_dir / f"{spec.name}.log" if log_dir else None)
                      for spec, cmd in commands]
        for p in self.procs:    # a fleet's vehicle node logs to <log_dir>/<vehicle>/<node>.log
            if p.log_path is not None:
                p.log_path.parent.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        self.t0 = time.monotonic()
        for p in self.procs:
            self._launch(p)

    def _launch(self, p: NodeProcess, extra_args: list[str] = ()) -> None:
        out = None
        if p.log_path is not None:
            if p._log:
                p._log.close()
            p._log = out = open(p.log_path, "ab" if p.popen else "wb")   # a restart appends
        p.popen = self._spawn(p, list(extra_args), out, self.env, subprocess.DEVNULL)
        p.spare_due = time.monotonic() + STANDBY_DELAY_S

    def _spawn(self, p: NodeProcess, extra_args: list[str], out, env: dict[str, str], stdin) -> subprocess.Popen:
        return subprocess.Popen(p.cmd + extra_args, env=env, stdin=stdin, stdout=out,
                                stderr=subprocess.STDOUT if out else None,
                                start_new_session=True, preexec_fn=die_with_parent(p.spec.nice))

    def keep_standbys(self) -> None:
        """Start the spare of every `restart.standby` node that has none (when due), and replace dead ones."""
        now = time.monotonic()
        for p in self.procs:
            running = p.popen is not None and p.popen.poll() is None and not p.stopped_by_us
            if not (self.standby and p.spec.restart.standby and running):
                continue
            if p.spare is not None and p.spare.poll() is not None:   # died while waiting: start another
                p.spare, p.spare_due = None, now + STANDBY_DELAY_S
            if p.spare is None and now >= p.spare_due:
                standby_env = dict(self.env, QIKI_STANDBY="1")
                p.spare = self._spawn(p, self.restart_args, p._log, standby_env, subprocess.PIPE)

    def _take_over(self, p: NodeProcess) -> bool:
        """The spare becomes the node's process; False if it is not there or cannot be told."""
        spare, p.spare = p.spare, None
        if spare is None or spare.poll() is not None:
            return False
        try:
            spare.stdin.write(b"go\n")
            spare.stdin.close()
        except OSError:
            return False
        p.popen = spare
        p.spare_due = time.monotonic() + STANDBY_DELAY_S
        return True

    def pids(self) -> list[int]:
        return [p.popen.pid for p in self.procs if p.popen]

    def dead(self) -> list[NodeProcess]:
        """Nodes that exited although nobody asked them to."""
        return [p for p in self.procs if p.popen and p.popen.poll() is not None and not p.stopped_by_us]

    def restart_dead(self) -> tuple[list[Restart], list[NodeProcess]]:
        """Restart every dead node its policy allows (its spare takes over, or a new process starts
        with the command line + restart_args); return (restarts made, nodes that stay dead)."""
        restarts, failed = [], []
        now = time.monotonic()
        for p in self.dead():
            if not p.spec.restart.allows(p.restart_times, now):
                failed.append(p)
                continue
            code = p.popen.returncode
            p.restart_times.append(now)
            standby = self._take_over(p)
            if not standby:
                self._launch(p, self.restart_args)
            restarts.append(Restart(p.spec.name, code, round(now - self.t0, 3), len(p.restart_times), standby))
        return restarts, failed

    def stop(self, timeout_s: float = 5.0) -> dict[str, int]:
        """SIGINT every node and spare, then SIGTERM, then SIGKILL the process group; return the nodes'
        exit codes."""
        for p in self.procs:
            p.stopped_by_us = p.stopped_by_us or bool(p.popen and p.popen.poll() is None)
        live = [q for p in self.procs for q in (p.popen, p.spare) if q and q.poll() is None]
        for sig, wait_s in ((signal.SIGINT, timeout_s), (signal.SIGTERM, 2.0), (signal.SIGKILL, 2.0)):
            for q in live:
                try:
                    os.killpg(q.pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + wait_s
            for q in live:
                try:
                    q.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
            live = [q for q in live if q.poll() is None]
            if not live:
                break
        for p in self.procs:
            if p.spare is not None and p.spare.stdin:
                p.spare.stdin.close()
        for p in self.procs:
            if p._log:
                p._log.close()
        return {p.spec.name: p.popen.returncode for p in self.procs if p.popen}

    def __enter__(self) -> GraphSupervisor:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
