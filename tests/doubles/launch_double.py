"""TEST DOUBLE of the `launch` and `launch_ros` packages, which cannot be installed here.

It implements only what launch/bringup.launch.py uses, recording the arguments, so a test can check
that the launch file starts the same nodes, parameters and remappings as `qiki bringup`.
Install with `install(monkeypatch)`; it registers fake modules `launch`, `launch.actions`,
`launch.substitutions`, `launch.launch_description_sources`, `launch_ros`, `launch_ros.actions` in sys.modules.
`evaluate` follows groups and includes as `ros2 launch` does: an included file's arguments are the including
scope's plus its `launch_arguments`, a group's configurations and pushed namespace stay inside it, and each
node gets `namespace`: the ROS namespace it would run in (its own if absolute, else under the pushed one).
"""
import importlib.util
import sys
import types


class LaunchDescription:
    def __init__(self, entities):
        self.entities = list(entities)


class DeclareLaunchArgument:
    def __init__(self, name, default_value="", description=""):
        self.name, self.default_value, self.description = name, default_value, description


class OpaqueFunction:
    def __init__(self, function):
        self.function = function


class GroupAction:
    def __init__(self, actions, scoped=True):
        self.actions, self.scoped = list(actions), scoped


class IncludeLaunchDescription:
    def __init__(self, launch_description_source, launch_arguments=()):
        self.source, self.launch_arguments = launch_description_source, list(launch_arguments)


class PythonLaunchDescriptionSource:
    def __init__(self, launch_file_path):
        self.path = str(launch_file_path)


class PushRosNamespace:
    def __init__(self, namespace):
        self.namespace = namespace


class LaunchConfiguration:
    def __init__(self, name):
        self.name = name

    def perform(self, context):
        return context.launch_configurations[self.name]


class Node:
    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.namespace = None     # set by evaluate(): the ROS namespace the node runs in


class LaunchContext:
    def __init__(self, launch_configurations):
        self.launch_configurations = launch_configurations


def install(monkeypatch) -> None:
    modules = {
        "launch": dict(LaunchDescription=LaunchDescription),
        "launch.actions": dict(DeclareLaunchArgument=DeclareLaunchArgument, OpaqueFunction=OpaqueFunction,
                               GroupAction=GroupAction, IncludeLaunchDescription=IncludeLaunchDescription),
        "launch.launch_description_sources": dict(PythonLaunchDescriptionSource=PythonLaunchDescriptionSource),
        "launch.substitutions": dict(LaunchConfiguration=LaunchConfiguration),
        "launch_ros": {},
        "launch_ros.actions": dict(Node=Node, PushRosNamespace=PushRosNamespace),
    }
    for name, attrs in modules.items():
        mod = types.ModuleType(name)
        mod.__dict__.update(attrs)
        monkeypatch.setitem(sys.modules, name, mod)


def evaluate(description: LaunchDescription, **arguments) -> list[Node]:
    """Resolve declared arguments (defaults overridden by `arguments`), run the opaque functions and follow the
    groups and includes they return; the nodes, in launch order."""
    return _entities(description.entities, dict(arguments), "/")


def _entities(entities, configs: dict, namespace: str) -> list[Node]:
    for e in entities:
        if isinstance(e, DeclareLaunchArgument):
            configs.setdefault(e.name, e.default_value)
    nodes: list[Node] = []
    for e in entities:
        if isinstance(e, OpaqueFunction):
            nodes += _entities(e.function(LaunchContext(configs)), configs, namespace)
        elif isinstance(e, Node):
            own = e.kwargs.get("namespace") or ""
            e.namespace = own if own.startswith("/") else "/" + "/".join(p.strip("/") for p in (namespace, own)
                                                                         if p.strip("/"))
            nodes.append(e)
        elif isinstance(e, GroupAction):
            scope = dict(configs) if e.scoped else configs
            pushed = namespace
            for action in e.actions:
                if isinstance(action, PushRosNamespace):
                    ns = action.namespace
                    pushed = ns if ns.startswith("/") else f"{pushed.rstrip('/')}/{ns}"
                else:
                    nodes += _entities([action], scope, pushed)
        elif isinstance(e, IncludeLaunchDescription):
            spec = importlib.util.spec_from_file_location(f"included_{len(nodes)}", e.source.path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            scope = {**configs, **dict(e.launch_arguments)}
            nodes += _entities(module.generate_launch_description().entities, scope, namespace)
    return nodes
