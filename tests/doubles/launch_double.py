"""TEST DOUBLE of the `launch` and `launch_ros` packages, which cannot be installed here.

It implements only what launch/bringup.launch.py uses, recording the arguments, so a test can check
that the launch file starts the same nodes, parameters and remappings as `qiki bringup`.
Install with `install(monkeypatch)`; it registers fake modules `launch`, `launch.actions`,
`launch.substitutions`, `launch_ros`, `launch_ros.actions` in sys.modules.
"""
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


class LaunchConfiguration:
    def __init__(self, name):
        self.name = name

    def perform(self, context):
        return context.launch_configurations[self.name]


class Node:
    def __init__(self, **kwargs):
        self.kwargs = kwargs


class LaunchContext:
    def __init__(self, launch_configurations):
        self.launch_configurations = launch_configurations


def install(monkeypatch) -> None:
    modules = {
        "launch": dict(LaunchDescription=LaunchDescription),
        "launch.actions": dict(DeclareLaunchArgument=DeclareLaunchArgument, OpaqueFunction=OpaqueFunction),
        "launch.substitutions": dict(LaunchConfiguration=LaunchConfiguration),
        "launch_ros": {},
        "launch_ros.actions": dict(Node=Node),
    }
    for name, attrs in modules.items():
        mod = types.ModuleType(name)
        mod.__dict__.update(attrs)
        monkeypatch.setitem(sys.modules, name, mod)


def evaluate(description: LaunchDescription, **arguments) -> list[Node]:
    """Resolve declared arguments (defaults overridden by `arguments`) and run the opaque functions."""
    configs = {e.name: e.default_value for e in description.entities if isinstance(e, DeclareLaunchArgument)}
    configs.update(arguments)
    context = LaunchContext(configs)
    nodes = []
    for e in description.entities:
        if isinstance(e, OpaqueFunction):
            nodes += e.function(context)
    return nodes
