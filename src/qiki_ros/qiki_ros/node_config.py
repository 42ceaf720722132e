"""Parameters every QIKI node has besides its own: its place in the graph (step barrier, start-up gate, the
QoS of its ports) and its health reporting. Each node's parameter model derives from `GraphNodeConfig`, so
`qiki run --set`, `qiki config show` and the params files cover these like any other parameter.

The graph-derived fields (`sync.upstream`, `sync.members`, `sync.expected_subscribers`, `sync.run_id`,
`sync.step_ns`, `qos.ports`) are filled from config/graph.yaml by the launcher (`qiki.plan`, the launch file);
the others are settings. Pure pydantic: no ROS import.
"""
from pydantic import Field

from qiki_schema.strict import Strict


class SyncConfig(Strict):
    upstream: list[str] = Field([], description="nodes whose StepDone this node waits for (from the graph; an entry starting with / is a full node name, any other is in the node's namespace)")
    members: list[str] = Field([], description="every node of the step barrier (from the graph)")
    producer_timeout_s: float = Field(2.0, ge=0.0, description="wall seconds without a StepDone after which an "
                                      "upstream node is dropped from the barrier until it announces again; 0: never")
    run_id: str = Field("", description="run identity carried by every StepDone; others' are rejected")
    step_ns: int = Field(0, ge=0, description="sim step [ns]: stamps off this grid are rejected; 0: no grid")
    horizon_steps: int = Field(100, ge=1, description="steps ahead of the newest released one accepted")
    join_running: bool = Field(False, description="joining a running graph (restart): live data only")
    expected_subscribers: list[str] = Field([], description="<topic>=<node> subscriptions the node's publishers "
                                            "must match before it joins the barrier (from the graph and watchers)")
    gate_timeout_s: float = Field(15.0, gt=0.0, description="wall seconds the start-up gate waits, then warns "
                                  "and joins without the missing subscribers")


class QosConfig(Strict):
    ports: list[str] = Field([], description="<port>=<profile> for every port of the node, profile names of "
                             "qiki_ros.qos.BY_NAME, from the `qos:` of each topic in config/graph.yaml")


class DiagnosticsConfig(Strict):
    period_s: float = Field(1.0, gt=0.0, description="wall period of the /diagnostics report [s]")
    warn_latency_ms: float = Field(50.0, gt=0.0, description="step latency from which the node reports WARN [ms]")
    error_latency_ms: float = Field(100.0, gt=0.0, description="step latency from which it reports ERROR [ms]")


class MetricsConfig(Strict):
    port: int = Field(0, ge=0, le=65535, description="Prometheus endpoint on 127.0.0.1:<port>/metrics; 0: none")


LAUNCHER_PARAMS = frozenset({"sync.upstream", "sync.members", "sync.run_id", "sync.step_ns",
                             "sync.expected_subscribers", "sync.join_running", "qos.ports"})
"""The fields the launcher sets from the graph and the run (not settings: `--set` refuses them)."""


class GraphNodeConfig(Strict):
    """Base of every node's parameter model."""
    sync: SyncConfig = SyncConfig()
    qos: QosConfig = QosConfig()
    diagnostics: DiagnosticsConfig = DiagnosticsConfig()
    metrics: MetricsConfig = MetricsConfig()
