"""The sim node with a fleet scenario (bot_fleet), alone on its domain: one vehicle_state and device_health topic
per vehicle (`<v>/...` under the node's namespace), one truth with every vehicle in it, and each vehicle's
`<v>/cmd` moving that vehicle only. Real rclpy over Fast DDS; the graph's wiring of these ports is the plan's."""
import subprocess
import threading
import time
from collections import defaultdict

import pytest

pytestmark = pytest.mark.integration

VEHICLES = ("alpha", "bravo", "charlie")


def test_sim_node_publishes_and_takes_commands_per_vehicle(domain_id, leftover_processes, tmp_path):
    import rclpy
    from ament_index_python.packages import get_package_prefix

    from qiki.plan import config_dir
    from qiki.supervisor import graph_env
    from qiki_msgs.msg import ActuatorCommand, DeviceHealth, VehicleState, WorldTruth
    from qiki_ros import qos
    from qiki_ros.spin_thread import SpinThread, private_context

    ports = ["clock=clock", "truth=stream", "events=events", "step_done=sync", "diagnostics=stream"] + [
        f"{v}/{p}=stream" for v in VEHICLES for p in ("vehicle_state", "device_health", "cmd")]
    exe = f"{get_package_prefix('qiki_sim')}/lib/qiki_sim/sim_node"
    cmd = [exe, "--ros-args", "-r", "__node:=sim", "-r", "__ns:=/qiki",
           "-p", f"scenario_file:={config_dir() / 'scenarios' / 'bot_fleet.yaml'}",
           "-p", "clock.mode:=realtime", "-p", "clock.rate_factor:=2.0", "-p", "start.wait_timeout_s:=0.0",
           "-p", "use_sim_time:=false", "-p", f"qos.ports:=[{','.join(ports)}]"]
    log = (tmp_path / "sim.log").open("w")
    proc = subprocess.Popen(cmd, env=graph_env(domain_id), stdout=log, stderr=subprocess.STDOUT)
    context = private_context(domain_id)
    node = rclpy.create_node("fleet_probe", context=context)
    got: dict[str, list] = defaultdict(list)
    lock = threading.Lock()

    def keep(topic):
        def callback(msg):
            with lock:
                got[topic].append(msg)
        return callback
    topics = {"/qiki/truth": WorldTruth}
    for v in VEHICLES:
        topics[f"/qiki/{v}/vehicle_state"] = VehicleState
        topics[f"/qiki/{v}/device_health"] = DeviceHealth
    for topic, msg_type in topics.items():
        node.create_subscription(msg_type, topic, keep(topic), qos.STREAM)
    pub = node.create_publisher(ActuatorCommand, "/qiki/bravo/cmd", qos.STREAM)
    spinner = SpinThread(node, "fleet-probe")

    def wait(condition, timeout_s):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with lock:
                if condition():
                    return True
            time.sleep(0.05)
        return False
    try:
        assert wait(lambda: all(got[t] for t in topics), 60), \
            f"silent topics: {[t for t in topics if not got[t]]}; sim log: {(tmp_path / 'sim.log').read_text()[-2000:]}"
        with lock:
            truth = got["/qiki/truth"][-1]
            assert list(truth.id)[-3:] == [101, 102, 103] and list(truth.transponder_code)[-3:] == [2001, 2002, 2003]
        assert wait(lambda: pub.get_subscription_count() > 0, 30), "the sim does not subscribe /qiki/bravo/cmd"
        # commands are stamped with the step they were computed at: send one for each new step for a while
        sent_until = time.monotonic() + 3.0
        last = None
        while time.monotonic() < sent_until:
            with lock:
                stamp = got["/qiki/bravo/vehicle_state"][-1].header.stamp
            if stamp != last:
                last = stamp
                msg = ActuatorCommand(mode=ActuatorCommand.MODE_BOT_VELOCITY, linear_x_mps=1.0)
                msg.header.stamp = stamp
                pub.publish(msg)
            time.sleep(0.02)
        with lock:
            speeds = {v: got[f"/qiki/{v}/vehicle_state"][-1].twist.linear.x for v in VEHICLES}
        assert speeds["bravo"] > 0.5 and speeds["alpha"] == 0.0 and speeds["charlie"] == 0.0, speeds
        assert proc.poll() is None
    finally:
        spinner.close()                  # destroys the node, shuts its context down
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    assert leftover_processes(domain_id) == []
