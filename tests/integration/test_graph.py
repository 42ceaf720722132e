"""The whole graph as separate processes over Fast DDS: it comes up, tracks in both bands, the agent
boots to IDLE, and it shuts down leaving no process behind."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
QIKI = Path(sys.executable).with_name("qiki")


def _booted(state):
    """The agent passed its self test: BOOTING -> IDLE (it may have started its mission since)."""
    return any(t["from"] == "BOOTING" and t["to"] == "IDLE" for t in state.fsm_transitions)


def _graph_up(state):
    """Frames and confirmed tracks in both bands (frames and tracks arrive on different subscriptions, so
    either may be counted first) and the agent booted."""
    return (state.frames["lr"] > 0 and state.frames["sr"] > 0 and state.tracks_confirmed()["lr"] >= 1
            and state.tracks_confirmed()["sr"] >= 1 and _booted(state))


def test_graph_tracks_both_bands_and_agent_idles(domain_id, observer, leftover_processes):
    from qiki.plan import make_plan
    from qiki.supervisor import GraphSupervisor, graph_env

    plan = make_plan("bot")
    with GraphSupervisor(plan.commands([observer.watcher]), graph_env(domain_id), log_dir=None) as sup:
        pids = sup.pids()
        assert len(pids) == len(plan.graph.nodes)
        # each node runs at its graph.yaml niceness (field 19 of /proc/<pid>/stat; comm has no spaces here)
        nice = {p.spec.name: int(Path(f"/proc/{p.popen.pid}/stat").read_text().split()[18]) for p in sup.procs}
        assert nice == {n.name: n.nice for n in plan.graph.nodes} and nice["scorer"] == 10
        reached = observer.wait_for(_graph_up, timeout_s=120)
        state = observer.state
        assert reached, (f"graph did not come up: confirmed {state.tracks_confirmed()}, "
                         f"agent '{state.agent_state}', frames {state.frames}")
        assert state.frames["lr"] > 0 and state.frames["sr"] > 0
        assert state.fsm_transitions[0] == {"t_s": state.fsm_transitions[0]["t_s"], "from": "BOOTING", "to": "IDLE"}
        assert sup.dead() == []

        # The live graph is the one config/graph.yaml describes: every topic and service, with its type.
        want = {t.name: t.type for t in plan.graph.topics}
        want_srv = {s.name: s.type for s in plan.graph.services}

        def live_matches(_):
            topics = dict((n, ts[0]) for n, ts in observer.node.get_topic_names_and_types())
            services = dict((n, ts[0]) for n, ts in observer.node.get_service_names_and_types())
            return (all(topics.get(n) == t for n, t in want.items())
                    and all(services.get(n) == t for n, t in want_srv.items()))
        assert observer.wait_for(live_matches, timeout_s=30), sorted(observer.node.get_topic_names_and_types())

        # ... and every port of a graph node has the QoS config/graph.yaml names for its topic (no node chooses
        # one in code): reliability and durability as DDS discovery reports them (it carries no depth). Other
        # endpoints of the nodes (rclpy's own /clock subscription of use_sim_time) are not ports.
        from qiki_ros.qos import BY_NAME
        wrong, checked = [], 0
        for t in plan.graph.topics:
            want_qos = BY_NAME[t.qos]
            for infos, ends in ((observer.node.get_publishers_info_by_topic(t.name), t.pub),
                                (observer.node.get_subscriptions_info_by_topic(t.name), t.sub)):
                ports = {e.partition(".")[0] for e in ends}
                for info in infos:
                    if info.node_namespace.strip("/") != plan.graph.namespace or info.node_name not in ports:
                        continue
                    checked += 1
                    got = info.qos_profile
                    if (got.reliability, got.durability) != (want_qos.reliability, want_qos.durability):
                        wrong.append((t.name, info.node_name, got.reliability, got.durability))
        assert wrong == [] and checked >= sum(len(t.pub) + len(t.sub) for t in plan.graph.topics)
    codes = {p.spec.name: p.popen.returncode for p in sup.procs}
    assert codes == {n.name: 0 for n in plan.graph.nodes}
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert leftover_processes(domain_id) == []


def test_bringup_survives_ctrl_c_with_no_leftover(domain_id, observer, leftover_processes):
    proc = subprocess.Popen([str(QIKI), "bringup", "--profile", "bot", "--domain-id", str(domain_id)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        assert observer.wait_for(_booted, timeout_s=120), "agent never reached IDLE"
        assert len(leftover_processes(domain_id)) >= 5
        os.killpg(proc.pid, signal.SIGINT)           # what a terminal's Ctrl-C does
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out.decode()[-2000:]
    assert leftover_processes(domain_id) == []


def test_bringup_sigterm_stops_everything(domain_id, observer, leftover_processes):
    proc = subprocess.Popen([str(QIKI), "bringup", "--domain-id", str(domain_id)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert observer.wait_for(lambda s: s.sim_time_s > 1.0, timeout_s=120)
        proc.terminate()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert leftover_processes(domain_id) == []


def test_node_dying_at_start_up_is_named(domain_id, leftover_processes, tmp_path):
    from qiki.engines import failure_line
    from qiki.plan import make_plan
    from qiki.supervisor import GraphSupervisor, graph_env

    commands = make_plan("bot").commands()
    for node, cmd in commands:
        if node.name == "agent":
            cmd += ["-p", "tick_hz:=-1.0"]            # rejected by the agent's parameter model
    sup = GraphSupervisor(commands, graph_env(domain_id), log_dir=tmp_path)
    with sup:
        sup.procs[-1].popen.wait(timeout=60)
        dead = sup.dead()
    assert [p.spec.name for p in dead] == ["agent"]
    line = failure_line({"failed": dead})
    assert "node 'agent'" in line and "exited with code 2" in line and "tick_hz" in line
    assert "\n" not in line
    assert leftover_processes(domain_id) == []


def call(client, request, timeout_s: float = 30.0):
    """Call a service from the observer's node (spun by its own thread) and wait for the answer."""
    import threading
    done = threading.Event()
    future = client.call_async(request)
    future.add_done_callback(lambda _: done.set())
    assert done.wait(timeout_s), "no answer from the service"
    return future.result()


def test_sim_rejects_non_finite_commands_and_keeps_running(domain_id, observer, leftover_processes):
    """A NaN actuator command never reaches the vehicle: the sim drops it (event 910 from its step barrier, or
    event 901 from its command check; counted, last valid command held) and keeps running."""
    from qiki.plan import make_plan
    from qiki.supervisor import GraphSupervisor, graph_env
    from qiki_msgs.msg import ActuatorCommand
    from qiki_msgs.srv import OperatorCommand
    from qiki_ros import qos
    from qiki_ros.events import EventCode

    plan = make_plan("bot")
    commands = plan.commands([observer.watcher])
    for node, cmd in commands:
        if node.name == "sim":
            cmd += ["-p", "clock.mode:=lockstep"]
    pub = observer.node.create_publisher(ActuatorCommand, plan.graph.topic_of("agent.cmd"), qos.STREAM)
    with GraphSupervisor(commands, graph_env(domain_id), log_dir=None) as sup:
        assert observer.wait_for(lambda s: s.sim_time_s >= 1.0, timeout_s=120)
        step_ns = 100_000_000                                  # the scenario's dt_s
        k = int((observer.state.sim_time_s + 3.0) * 1e9) // step_ns
        bad = ActuatorCommand(mode=ActuatorCommand.MODE_BOT_VELOCITY, linear_x_mps=float("nan"))
        bad.header.stamp.sec, bad.header.stamp.nanosec = divmod(k * step_ns, 1_000_000_000)
        pub.publish(bad)
        # the agent commands that step too, so its StepDone lists one command: the step barrier drops the
        # extra one as surplus (event 910) before the sim's own check (event 901) would see it
        rejected = lambda s: any(code == EventCode.COMMAND_REJECTED or (  # noqa: E731
            code == EventCode.STEP_INPUT_REJECTED and "/qiki/cmd" in text) for _, code, text in s.events)
        assert observer.wait_for(rejected, timeout_s=120), "the sim did not reject the NaN command"
        t_now = observer.state.sim_time_s
        assert observer.wait_for(lambda s: s.sim_time_s >= t_now + 1.0, timeout_s=60), "the sim stopped stepping"

        # Operator commands through the service: safe mode is accepted, a mission start in safe mode is not.
        client = observer.node.create_client(OperatorCommand, plan.graph.services[0].name)
        assert client.wait_for_service(timeout_sec=30)
        answer = call(client, OperatorCommand.Request(command=OperatorCommand.Request.SAFE_MODE))
        assert (answer.accepted, answer.state) == (True, "SAFE_MODE"), answer
        answer = call(client, OperatorCommand.Request(command=OperatorCommand.Request.START_MISSION))
        assert not answer.accepted and answer.state == "SAFE_MODE" and "SAFE_MODE" in answer.reason, answer
        assert sup.dead() == []
    assert leftover_processes(domain_id) == []
