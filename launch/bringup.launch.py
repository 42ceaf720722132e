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

A fleet (a scenario with `vehicles:`) is brought up as nav2's multi-robot bringup does: this file starts the
world (the sim) and includes itself once per vehicle, in a group that pushes the vehicle's namespace
(`/qiki/alpha`), with `vehicle:=alpha` and the world's `run_id`. With `vehicle:=NAME` the file starts only that
vehicle's stack (radar, tracker, scorer, agent); `run_id` (default: a new one) is the identity every part of
one graph shares. A one-vehicle scenario starts all its nodes in the graph's namespace, as before.
"""
import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction, IncludeLaunchDescription, OpaqueFunction
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node, PushRosNamespace

_BOOLEAN = {"true": True, "false": False}
_ARGUMENTS = ("profile", "scenario", "namespace", "params_file", "use_sim_time", "log_level", "rate", "metrics_port")


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
                     params_file=arg("params_file") or None, run_id=arg("run_id") or None)
    rate, metrics_port, log_level = number("rate", float), number("metrics_port", int), arg("log_level")
    graph, vehicle = plan.graph, arg("vehicle")
    if vehicle and vehicle not in graph.vehicles:
        raise UsageError(f"vehicle:={vehicle} is not a vehicle of the scenario (vehicles: "
                         f"{', '.join(graph.vehicles) or 'none: a one-vehicle scenario has no named stack'})")
    actions = []
    for i, spec in enumerate(graph.nodes):
        if spec.vehicle_name != vehicle:
            continue                       # the world's or another stack's node
        overrides = {"use_sim_time": spec.use_sim_time and _BOOLEAN[use_sim_time],
                     **{k: yaml.safe_load(v) for k, v in plan.overrides(spec.name).items()}}
        if rate is not None and not spec.use_sim_time:
            overrides["clock.rate_factor"] = rate
        if metrics_port is not None:
            overrides["metrics.port"] = metrics_port + i
        # a vehicle's stack: its own namespace, absolute, so that it is right also when launched alone
        where = graph.node_namespace(spec.name) if vehicle else graph.namespace
        actions.append(Node(
            package=spec.package, executable=spec.executable, name=spec.ros_name, namespace=where,
            parameters=[str(plan.params_file), overrides], remappings=graph.remappings(spec.name),
            arguments=["--ros-args", "--log-level", log_level],
            # LOCALHOST unless set explicitly; the project's Fast DDS profile unless the environment names one
            additional_env={**discovery_env(os.environ), **profiles_env(os.environ, config_dir() / "fastdds.xml")},
            output="screen",
            respawn=spec.restart.policy == "on-failure",    # graph.yaml `restart` (no restart count in launch)
            prefix=f"nice -n {spec.nice}" if spec.nice else None,
        ))
    if not vehicle:
        shared = {name: arg(name) for name in _ARGUMENTS}
        run_id = plan.node_overrides[graph.nodes[0].name]["sync.run_id"]
        for name in graph.vehicles:        # nav2 multi-robot style: this file again, once per vehicle namespace
            actions.append(GroupAction([
                PushRosNamespace(f"/{graph.namespace}/{name}"),
                IncludeLaunchDescription(PythonLaunchDescriptionSource(__file__),
                                         launch_arguments={**shared, "vehicle": name, "run_id": run_id}.items())]))
    return actions


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
        DeclareLaunchArgument("vehicle", default_value="",
                              description="start only this vehicle's stack of a fleet (default: the whole graph)"),
        DeclareLaunchArgument("run_id", default_value="",
                              description="the graph run's identity, the same for every part (default: a new one)"),
        OpaqueFunction(function=_graph_nodes),
    ])
