"""A node's parameters are read once at start-up: `ros2 param set` (the SetParameters service) is refused with
the reason, and the value stays what the node runs with. Real rclpy parameter service over Fast DDS."""
import pytest

rclpy = pytest.importorskip("rclpy")

from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue  # noqa: E402
from rcl_interfaces.srv import GetParameters, SetParameters  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402

from qiki_radar.tracker_config import TrackerNodeConfig  # noqa: E402
from qiki_ros.graph_node import GraphNode  # noqa: E402
from qiki_ros.params import declare_model  # noqa: E402
from qiki_ros.spin_thread import SpinThread, private_context  # noqa: E402


def _call(client_node, client, request, timeout_s: float = 30.0):
    assert client.wait_for_service(timeout_sec=timeout_s), "parameter service not discovered"
    future = client.call_async(request)
    executor = SingleThreadedExecutor(context=client_node.context)
    rclpy.spin_until_future_complete(client_node, future, executor=executor, timeout_sec=timeout_s)
    executor.shutdown()
    assert future.done(), "no answer from the parameter service"
    return future.result()


def test_param_set_is_refused_with_a_reason_and_the_value_kept(domain_id):
    node = GraphNode("param_probe_tracker", namespace="/qiki_test", context=private_context())
    cfg = declare_model(node, TrackerNodeConfig)
    # the graph wiring is part of the model; a parameter declared after the model is still accepted
    assert cfg.sync.producer_timeout_s == 2.0
    assert node.declare_parameter("probe.declared_late", 2.0).value == 2.0
    spinner = SpinThread(node, "param-probe")
    client_node = rclpy.create_node("param_client", context=private_context())
    try:
        target = "/qiki_test/param_probe_tracker"
        setter = client_node.create_client(SetParameters, f"{target}/set_parameters")
        getter = client_node.create_client(GetParameters, f"{target}/get_parameters")
        wrong_type = Parameter(name="tracker.confirm_m",
                               value=ParameterValue(type=ParameterType.PARAMETER_STRING, string_value="abc"))
        right_type = Parameter(name="tracker.confirm_m",
                               value=ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=9))
        answer = _call(client_node, setter, SetParameters.Request(parameters=[wrong_type, right_type]))
        for result in answer.results:
            assert not result.successful
            assert "tracker.confirm_m is read at start-up" in result.reason
            assert "qiki run --set param_probe_tracker.tracker.confirm_m=VALUE" in result.reason
        got = _call(client_node, getter, GetParameters.Request(names=["tracker.confirm_m"])).values[0]
        assert got.type == ParameterType.PARAMETER_INTEGER
        assert got.integer_value == cfg.tracker.confirm_m != 9
    finally:
        client_node.destroy_node()
        rclpy.shutdown(context=client_node.context)
        spinner.close()
