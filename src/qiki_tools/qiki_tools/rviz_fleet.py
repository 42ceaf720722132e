"""The rviz config of a fleet scenario, generated from its profile's config and the graph's expansion.

A profile's config (config/rviz/<profile>.rviz) names the topics of one unnamed vehicle (graph.yaml's names).
For a fleet, each display whose topic moves per vehicle is drawn once per vehicle, inside one rviz `Group`
display per vehicle namespace (`/qiki/alpha`), with that vehicle's topic (GraphSpec.for_fleet: the graph's
own names, never spelled here); the other displays (grid, world topics) stay once, at the top.

    python -m qiki_tools.rviz_fleet bot_fleet > config/rviz/bot_fleet.rviz

regenerates the shipped config; test_rviz_fleet checks that the shipped file is what this module writes.
"""
from __future__ import annotations

import copy
import sys

import yaml

GROUP_CLASS = "rviz_common/Group"


def _vehicle_endpoint(template, topic: str) -> str | None:
    """The publishing endpoint (`tracker.markers`) of a template topic that moves per vehicle, else None."""
    spec = next((t for t in template.topics if t.name == topic), None)
    if spec is None or spec.scope != "vehicle" or not spec.pub:
        return None
    return spec.pub[0]


def fleet_rviz(config: dict, template, fleet) -> dict:
    """`config` (a profile's rviz config, as YAML data) for the expanded graph `fleet` of the graph.yaml graph
    `template`: displays of vehicle topics move into one Group per vehicle namespace, each with its topic."""
    out = copy.deepcopy(config)
    manager = out["Visualization Manager"]
    shared, per_vehicle = [], []
    for display in manager["Displays"]:
        topic = display.get("Topic", {}).get("Value")
        endpoint = _vehicle_endpoint(template, topic) if topic else None
        (per_vehicle if endpoint else shared).append((display, endpoint))
    groups = []
    for vehicle in fleet.vehicles:
        displays = []
        namespace = ""
        for display, endpoint in per_vehicle:
            own = fleet.vehicle_endpoint(vehicle, endpoint)
            namespace = fleet.node_namespace(own.partition(".")[0])
            moved = copy.deepcopy(display)
            moved["Topic"]["Value"] = fleet.topic_of(own)
            moved["Name"] = f"{display['Name']} ({vehicle})"
            displays.append(moved)
        groups.append({"Class": GROUP_CLASS, "Name": namespace or f"/{fleet.namespace}/{vehicle}",
                       "Enabled": True, "Displays": displays})
    manager["Displays"] = [d for d, _ in shared] + groups
    return out


def fleet_rviz_text(scenario: str) -> str:
    """The rviz config file of an installed fleet scenario (its profile's config, expanded per vehicle)."""
    from qiki.plan import config_dir, make_plan
    plan = make_plan(scenario=scenario, profile=_profile_of(scenario))
    if not plan.graph.vehicles:
        raise ValueError(f"scenario '{scenario}' has one vehicle: use config/rviz/{plan.profile}.rviz")
    source = config_dir() / "rviz" / f"{plan.profile}.rviz"
    config = fleet_rviz(yaml.safe_load(source.read_text()), plan.base_graph, plan.graph)
    head = (f"# rviz2 for the fleet scenario {scenario}: {source.name} with one display group per vehicle "
            f"namespace ({', '.join(config_namespaces(config))}).\n"
            f"# Generated: python -m qiki_tools.rviz_fleet {scenario} > config/rviz/{scenario}.rviz\n")
    return head + yaml.safe_dump(config, sort_keys=False)


def config_namespaces(config: dict) -> list[str]:
    """The names of an rviz config's Group displays (a fleet config's vehicle namespaces)."""
    return [d["Name"] for d in config["Visualization Manager"]["Displays"] if d["Class"] == GROUP_CLASS]


def _profile_of(scenario: str) -> str:
    from qiki.plan import config_dir
    from qiki_sim.scenario import find_scenario, load_scenario
    return load_scenario(find_scenario(scenario, config_dir() / "scenarios")).profile


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m qiki_tools.rviz_fleet SCENARIO  (a fleet scenario of config/scenarios/)",
              file=sys.stderr)
        return 2
    from qiki.graph import ConfigError
    from qiki_sim.scenario import ScenarioError
    try:
        sys.stdout.write(fleet_rviz_text(args[0]))
    except (ValueError, ConfigError, ScenarioError, OSError) as exc:
        print(f"qiki_tools.rviz_fleet: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

