"""Bring up the QIKI graph on a full ROS 2 install: `ros2 launch qiki bringup.launch.py profile:=bot`.

The node list, parameters files, remappings and per-node file parameters come from the same single
description (config/graph.yaml, read through qiki.plan) that `qiki bringup` uses, so both start the
same graph. Arguments:

- profile (default: the graph's default_profile), scenario (default: the profile's);
- namespace: the graph's namespace (default: graph.yaml's, `qiki`); its nodes and every topic and service
  under it move there (`namespace:=robot1` -> `/robot1/tracks`), `/clock` and `/diagnostics` stay global;
- params_file: a ROS 2 params file (`/**/<node>: ros__parameters: ...`, e.g. an edited copy of
  config/params/<profile>.yaml or the `params.yaml` a `qiki run` wrote) in place of the profile's; checked
  against the nodes' parameter models before any node starts;
- use_sim_time: whether the nodes follow the sim's /clock (default true; the sim owns /clock and always
  runs on its own clock);
- log_level: the nodes' ROS log level (default info);
- rate (sim rate factor, default: from the params file), metrics_port (BASE: node i of graph.yaml serves
  Prometheus metrics on 127.0.0.1:BASE+i; default off).

Discovery: the nodes get `ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST` unless the environment sets it (and
`ROS_STATIC_PEERS`) explicitly, and the project's Fast DDS profile (config/fastdds.xml) unless the environment
names its own, as `qiki bringup` does (qiki_ros.discovery).

As nav2_bringup does with RewrittenYaml, the arguments are substituted into each node's parameters here (the
plan rewrites the graph's names for the namespace; the params file is matched by `/**/<node>` keys, so it
needs no namespace root key).
"""
import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

_BOOLEAN = {"true": True, "false": False}


def _graph_nodes(context, *args, **kwargs):
    import yaml
    from qiki.plan import UsageError, config_dir, make_plan
    from qiki_ros.discovery import discovery_env, profiles_env

    def arg(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    def number(name: str, kind):
        """The argument as `kind`, None when empty; a one-line UsageError for anything else."""
        text = arg(name)
        try:
            return kind(text) if text else None
        except ValueError:
            raise UsageError(f"{name}:={text} must be a{'n integer' if kind is int else ' number'}") from None

    use_sim_time = arg("use_sim_time").lower()
    if use_sim_time not in _BOOLEAN:
        raise UsageError(f"use_sim_time:={arg('use_sim_time')} must be true or false")
    plan = make_plan(arg("profile") or None, arg("scenario") or None, namespace=arg("namespace") or None,
                     params_file=arg("params_file") or None)
    rate, metrics_port, log_level = number("rate", float), number("metrics_port", int), arg("log_level")
    graph = plan.graph
    nodes = []
    for i, spec in enumerate(graph.nodes):
        overrides = {"use_sim_time": spec.use_sim_time and _BOOLEAN[use_sim_time],
                     **{k: yaml.safe_load(v) for k, v in plan.overrides(spec.name).items()}}
        if rate is not None and spec.name == "sim":
            overrides["clock.rate_factor"] = rate
        if metrics_port is not None:
            overrides["metrics.port"] = metrics_port + i
        nodes.append(Node(
            package=spec.package, executable=spec.executable, name=spec.name, namespace=graph.namespace,
            parameters=[str(plan.params_file), overrides], remappings=graph.remappings(spec.name),
            arguments=["--ros-args", "--log-level", log_level],
            # LOCALHOST unless set explicitly; the project's Fast DDS profile unless the environment names one
            additional_env={**discovery_env(os.environ), **profiles_env(os.environ, config_dir() / "fastdds.xml")},
            output="screen",
            respawn=spec.restart.policy == "on-failure",    # graph.yaml `restart` (no restart count in launch)
            prefix=f"nice -n {spec.nice}" if spec.nice else None,
        ))
    return nodes


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("profile", default_value="", description="vehicle profile: bot (default) or ship"),
        DeclareLaunchArgument("scenario", default_value="", description="scenario name in config/scenarios/"),
        DeclareLaunchArgument("namespace", default_value="",
                              description="namespace of the graph's nodes, topics and services (default: qiki)"),
        DeclareLaunchArgument("params_file", default_value="",
                              description="ROS 2 params file for all nodes (default: config/params/<profile>.yaml)"),
        DeclareLaunchArgument("use_sim_time", default_value="true",
                              description="nodes follow the sim's /clock (the sim itself always owns its clock)"),
        DeclareLaunchArgument("log_level", default_value="info", description="ROS log level of every node"),
        DeclareLaunchArgument("rate", default_value="", description="sim rate factor (1 = real time)"),
        DeclareLaunchArgument("metrics_port", default_value="",
                              description="Prometheus on 127.0.0.1: node i of graph.yaml on port metrics_port + i"),
        OpaqueFunction(function=_graph_nodes),
    ])
