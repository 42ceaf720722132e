"""Bring up the QIKI graph on a full ROS 2 install: `ros2 launch qiki bringup.launch.py profile:=bot`.

The node list, parameters files, remappings and per-node file parameters come from the same single
description (config/graph.yaml, read through qiki.plan) that `qiki bringup` uses, so both start the
same graph. Arguments: profile (default: the graph's default_profile), scenario (default: the
profile's), rate (sim rate factor, default: from the profile's params file), metrics_port (BASE:
node i of graph.yaml serves Prometheus metrics on 127.0.0.1:BASE+i; default off).
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def _graph_nodes(context, *args, **kwargs):
    import yaml
    from qiki.plan import make_plan

    profile = LaunchConfiguration("profile").perform(context) or None
    scenario = LaunchConfiguration("scenario").perform(context) or None
    rate = LaunchConfiguration("rate").perform(context)
    metrics_port = LaunchConfiguration("metrics_port").perform(context)
    plan = make_plan(profile, scenario)
    graph = plan.graph
    nodes = []
    for i, spec in enumerate(graph.nodes):
        overrides = {"use_sim_time": spec.use_sim_time,
                     **{k: yaml.safe_load(v) for k, v in plan.overrides(spec.name).items()}}
        if rate and spec.name == "sim":
            overrides["clock.rate_factor"] = float(rate)
        if metrics_port:
            overrides["metrics.port"] = int(metrics_port) + i
        nodes.append(Node(
            package=spec.package, executable=spec.executable, name=spec.name, namespace=graph.namespace,
            parameters=[str(plan.params_file), overrides], remappings=graph.remappings(spec.name),
            additional_env={"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}, output="screen",
            respawn=spec.restart.policy == "on-failure",    # graph.yaml `restart` (no restart count in launch)
            prefix=f"nice -n {spec.nice}" if spec.nice else None,
        ))
    return nodes


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("profile", default_value="", description="vehicle profile: bot (default) or ship"),
        DeclareLaunchArgument("scenario", default_value="", description="scenario name in config/scenarios/"),
        DeclareLaunchArgument("rate", default_value="", description="sim rate factor (1 = real time)"),
        DeclareLaunchArgument("metrics_port", default_value="",
                              description="Prometheus on 127.0.0.1: node i of graph.yaml on port metrics_port + i"),
        OpaqueFunction(function=_graph_nodes),
    ])
