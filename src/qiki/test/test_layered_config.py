"""Layered configuration: each layer beats the one below and is named as the source; bad input in any
layer is one line naming the parameter, the value, what was expected and the layer."""
import dataclasses

import pytest
import yaml

from qiki.graph import ConfigError, load_params
from qiki.layered_config import DEFAULT, GRAPH, RUN_DEFAULT, configure
from qiki.plan import make_plan

PROFILE = "profile config/params/bot.yaml"


@pytest.fixture(scope="module")
def plan():
    return make_plan("bot")


def overrides_file(tmp_path, sections: dict, name="overrides.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump({f"/**/{node}": {"ros__parameters": params} for node, params in sections.items()}))
    return path


def one_line_error(*args, **kwargs) -> str:
    with pytest.raises(ConfigError) as err:
        configure(*args, **kwargs)
    msg = str(err.value)
    assert "\n" not in msg, msg
    return msg


# --- precedence ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("layers, value, source", [
    ((), 15.0, DEFAULT),                                  # TrackerConfig default
    (("profile",), 5.0, PROFILE),                          # bot.yaml: init_velocity_std: 5.0
    (("profile", "overrides"), 6.0, "overrides {overrides}"),
    (("profile", "overrides", "env"), 7.0, "env QIKI_TRACKER__TRACKER__INIT_VELOCITY_STD"),
    (("profile", "overrides", "env", "cli"), 8.0, "cli --set"),
    (("profile", "env", "cli"), 8.0, "cli --set"),
    (("profile", "overrides", "cli"), 8.0, "cli --set"),
])
def test_each_layer_beats_the_one_below_and_is_the_source(plan, tmp_path, layers, value, source):
    over = overrides_file(tmp_path, {"tracker": {"tracker": {"init_velocity_std": 6.0}}})
    if "profile" not in layers:   # a profile file that does not set it: the model default shows
        empty = tmp_path / "config" / "params" / "bot.yaml"
        empty.parent.mkdir(parents=True)
        empty.write_text("/**/tracker:\n  ros__parameters: {}\n")
        plan = dataclasses.replace(plan, params_file=empty)
    config = configure(plan, {"QIKI_TRACKER__TRACKER__INIT_VELOCITY_STD": "7"} if "env" in layers else {},
                       overrides=over if "overrides" in layers else None,
                       sets=["tracker.tracker.init_velocity_std=8"] if "cli" in layers else [])
    s = config.settings["tracker.tracker.init_velocity_std"]
    assert (s.value, s.source) == (value, source.format(overrides=over))
    assert isinstance(s.value, float)   # validated: the int 7 / 8 became the model's float


def clock_mode(plan, **kwargs):
    s = configure(plan, kwargs.pop("environ", {}), **kwargs).settings["sim.clock.mode"]
    return s.value, s.source


def test_run_default_sits_between_profile_and_overrides(plan, tmp_path):
    over = overrides_file(tmp_path, {"sim": {"clock": {"mode": "realtime"}}})
    lockstep = [("sim.clock.mode", "lockstep")]
    assert clock_mode(plan) == ("realtime", PROFILE)
    assert clock_mode(plan, run_defaults=lockstep) == ("lockstep", RUN_DEFAULT)
    assert clock_mode(plan, run_defaults=lockstep, overrides=over) == ("realtime", f"overrides {over}")
    assert clock_mode(plan, run_defaults=lockstep, environ={"QIKI_SIM__CLOCK__MODE": "realtime"}) == \
        ("realtime", "env QIKI_SIM__CLOCK__MODE")
    assert clock_mode(plan, environ={"QIKI_SIM__CLOCK__MODE": "lockstep"},
                      command_line=[("sim.clock.mode", "realtime", "cli --mode")]) == ("realtime", "cli --mode")


def test_later_set_wins_and_set_beats_named_flags(plan):
    config = configure(plan, {}, command_line=[("sim.clock.rate_factor", 2.0, "cli --rate")],
                       sets=["sim.clock.rate_factor=3", "agent.mission.laps=2", "agent.mission.laps=5"])
    assert config.settings["sim.clock.rate_factor"].value == 3.0
    assert (config.settings["agent.mission.laps"].value, config.settings["agent.mission.laps"].source) == (5, "cli --set")


def test_overrides_flag_beats_overrides_env(plan, tmp_path):
    by_flag = overrides_file(tmp_path, {"agent": {"mission": {"laps": 3}}}, "flag.yaml")
    by_env = overrides_file(tmp_path, {"agent": {"mission": {"laps": 4}}}, "env.yaml")
    env = {"QIKI_OVERRIDES_FILE": str(by_env)}
    assert configure(plan, env).settings["agent.mission.laps"].value == 4
    config = configure(plan, env, overrides=by_flag)
    assert config.settings["agent.mission.laps"].value == 3
    assert config.facts["overrides_file"] == f"{by_flag} (from --overrides)"


def test_launcher_parameters_come_from_the_graph(plan):
    config = configure(plan, {})
    assert config.settings["agent.fsm_file"].source == GRAPH
    assert config.settings["agent.fsm_file"].value.endswith("fsm/bot.yaml")
    assert (config.settings["sim.use_sim_time"].value, config.settings["radar.use_sim_time"].value) == (False, True)
    assert config.facts["profile"] == "bot" and config.facts["namespace"] == "/qiki"


# --- environment ---------------------------------------------------------------------------------------

def test_env_values_are_yaml_and_double_underscores_are_dots(plan):
    config = configure(plan, {"QIKI_TRACKER__TRACKER__FOE_CODES": "[6601, 7]",
                              "QIKI_AGENT__MISSION__AUTOSTART": "false",
                              "QIKI_RADAR__RADAR__LR__RATE_HZ": "4",
                              "PATH": "/usr/bin", "MY_QIKI_X": "ignored: not QIKI_-prefixed"})
    assert config.settings["tracker.tracker.foe_codes"].value == [6601, 7]
    assert config.settings["agent.mission.autostart"].value is False
    assert config.settings["radar.radar.lr.rate_hz"].value == 4.0


# --- unknown names -------------------------------------------------------------------------------------

@pytest.mark.parametrize("environ, sets, expected", [
    ({"QIKI_TRAKER__TRACKER__CONFIRM_M": "3"}, [], "traker.tracker.confirm_m (from env QIKI_TRAKER__TRACKER__CONFIRM_M): "
                                                    "unknown node 'traker' (nodes: sim, radar, tracker, scorer, agent)"),
    ({"QIKI_TRACKER__TRACKER__CONFIRM_MM": "3"}, [], "node 'tracker' has no parameter 'tracker.confirm_mm'; "
                                                     "did you mean 'tracker.tracker.confirm_m'?"),
    ({"QIKI_TRACKER": "3"}, [], "env QIKI_TRACKER: not a QIKI setting"),
    ({"QIKI_OVERRIDE_FILE": "x.yaml"}, [], "env QIKI_OVERRIDE_FILE: not a QIKI setting"),
    ({}, ["trackr.tracker.confirm_m=3"], "trackr.tracker.confirm_m (from cli --set): unknown node 'trackr'"),
    ({}, ["tracker.confirm_m=3"], "tracker.confirm_m (from cli --set): node 'tracker' has no parameter 'confirm_m'"),
    ({}, ["tracker.tracker.confirm_m"], "--set 'tracker.tracker.confirm_m': expected NODE.PARAM=VALUE"),
    ({}, ["agent.fsm_file=my.yaml"], "agent.fsm_file (from cli --set): set by the launcher from config/graph.yaml"),
    ({"QIKI_SIM__USE_SIM_TIME": "true"}, [], "sim.use_sim_time (from env QIKI_SIM__USE_SIM_TIME): set by the launcher"),
    ({}, ["radar.qos.ports=[frame=latched]"], "radar.qos.ports (from cli --set): set by the launcher"),
    ({}, ["tracker.sync.upstream=[sim]"], "tracker.sync.upstream (from cli --set): set by the launcher"),
])
def test_unknown_or_launcher_parameters_are_one_line_errors(plan, environ, sets, expected):
    assert expected in one_line_error(plan, environ, sets=sets)


def test_barrier_and_metrics_settings_are_parameters_like_any_other(plan):
    config = configure(plan, {"QIKI_SIM__SYNC__PRODUCER_TIMEOUT_S": "5.0"}, sets=["tracker.metrics.port=9100"])
    doc = config.params_document()
    assert doc["/**/sim"]["ros__parameters"]["sync"]["producer_timeout_s"] == 5.0
    assert doc["/**/tracker"]["ros__parameters"]["metrics"]["port"] == 9100
    assert config.settings["agent.sync.gate_timeout_s"].source == "default"
    assert "sync.upstream" not in doc["/**/agent"]["ros__parameters"]["sync"]     # the launcher's, per run
    assert "metrics.port" in one_line_error(plan, {}, sets=["tracker.metrics.port=70000"])


def test_unknown_names_in_the_overrides_file(plan, tmp_path):
    typo = overrides_file(tmp_path, {"tracker": {"tracker": {"confirm_mm": 3}}})
    msg = one_line_error(plan, {}, overrides=typo)
    assert f"(from overrides {typo}): node 'tracker' has no parameter 'tracker.confirm_mm'" in msg
    node = overrides_file(tmp_path, {"trackr": {"x": 1}}, "node.yaml")
    assert "/**/trackr: unknown node section" in one_line_error(plan, {}, overrides=node)


@pytest.mark.parametrize("text, expected", [
    ("/**/tracker:\n  ros__parameters:\n    tracker: [\n", "line 4: malformed YAML"),
    ("/**/tracker:\n  parameters: {}\n", "/**/tracker: expected exactly one key 'ros__parameters'"),
    ("- 1\n", "(top level): expected a mapping"),
])
def test_malformed_overrides_file_names_the_file(plan, tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    msg = one_line_error(plan, {}, overrides=path)
    assert msg.startswith(str(path)) and expected in msg, msg


def test_missing_overrides_file_is_an_error_from_flag_or_env(plan, tmp_path):
    gone = tmp_path / "gone.yaml"
    assert one_line_error(plan, {}, overrides=gone) == f"{gone}: no such overrides file (from --overrides)"
    assert one_line_error(plan, {"QIKI_OVERRIDES_FILE": str(gone)}) == \
        f"{gone}: no such overrides file (from QIKI_OVERRIDES_FILE)"


# --- values --------------------------------------------------------------------------------------------

def test_invalid_value_names_key_value_expected_and_source(plan, tmp_path):
    assert one_line_error(plan, {"QIKI_TRACKER__TRACKER__CONFIRM_M": "abc"}) == (
        "tracker.tracker.confirm_m = 'abc' (from env QIKI_TRACKER__TRACKER__CONFIRM_M): "
        "Input should be a valid integer, unable to parse string as an integer")
    assert one_line_error(plan, {}, sets=["sim.clock.mode=fast"]) == (
        "sim.clock.mode = 'fast' (from cli --set): Input should be 'realtime' or 'lockstep'")
    over = overrides_file(tmp_path, {"agent": {"tick_hz": -1}})
    assert one_line_error(plan, {}, overrides=over) == (
        f"agent.tick_hz = -1 (from overrides {over}): Input should be greater than 0")
    # a list item's error names the list parameter
    assert one_line_error(plan, {}, sets=["agent.bios.devices=[radar_lr, 7]"]) == (
        "agent.bios.devices = ['radar_lr', 7] (from cli --set): Input should be a valid string")
    assert "not a YAML value" in one_line_error(plan, {}, sets=["agent.bios.devices=[radar_lr"])


def test_check_across_parameters_names_the_parameters_it_mentions(plan):
    msg = one_line_error(plan, {}, sets=["radar.radar.sr_threshold_m=500"])
    assert msg.startswith("radar.radar: Value error, sr_threshold_m (500.0) must be below lr.max_range_m (400.0)")
    assert "radar.radar.sr_threshold_m = 500 from cli --set" in msg
    assert f"radar.radar.lr.max_range_m = 400.0 from {PROFILE}" in msg


def test_a_value_valid_only_after_merging_is_accepted(plan, tmp_path):
    """The overrides file is checked merged with the profile, not alone against the model defaults."""
    over = overrides_file(tmp_path, {"radar": {"radar": {"sr_threshold_m": 900.0, "lr": {"max_range_m": 2000.0}}}})
    assert configure(plan, {}, overrides=over).settings["radar.radar.sr_threshold_m"].value == 900.0


# --- the params file the nodes get ---------------------------------------------------------------------

def test_effective_params_file_holds_every_layer_and_the_plan_passes_it(plan, tmp_path):
    config = configure(plan, {"QIKI_TRACKER__TRACKER__CONFIRM_M": "3"}, run_defaults=[("sim.clock.mode", "lockstep")],
                       sets=["scorer.gospa.c_m=7.5"])
    doc = config.params_document()
    assert doc["/**/tracker"]["ros__parameters"]["tracker"]["confirm_m"] == 3
    assert doc["/**/scorer"]["ros__parameters"]["gospa"] == {"c_m": 7.5, "p": 2.0, "warmup_frames": 10}
    assert doc["/**/sim"]["ros__parameters"]["clock"]["mode"] == "lockstep"
    assert doc["/**/radar"]["ros__parameters"]["radar"]["lr"]["max_range_m"] == 400.0   # from the profile
    path = tmp_path / "params.yaml"
    path.write_text(config.params_yaml())
    for node, cmd in dataclasses.replace(plan, params_file=path).commands():
        assert cmd[cmd.index("--params-file") + 1] == str(path), node.name
    # the file is a valid params file of this graph and holds every value `config show` prints
    sections = load_params(path, plan.graph)
    for s in config.settings.values():
        value = sections[s.node]
        for part in s.param.split("."):
            value = value.get(part, "(absent)")
        assert value == (s.value if s.value != [] else "(absent)"), s


def test_empty_lists_stay_out_of_the_params_file(plan):
    config = configure(plan, {}, sets=["tracker.tracker.foe_codes=[]"])   # [] is the node's own default
    assert "foe_codes" not in config.params_document()["/**/tracker"]["ros__parameters"]["tracker"]
    msg = one_line_error(plan, {}, sets=["agent.bios.devices=[]"])
    assert msg.startswith("agent.bios.devices = [] (from cli --set): a ROS 2 params file cannot hold an empty list")


def test_table_and_json_list_every_parameter_with_its_source(plan):
    config = configure(plan, {"QIKI_TRACKER__TRACKER__CONFIRM_M": "3"})
    table = config.table().splitlines()
    row = next(line for line in table if line.startswith("tracker.tracker.confirm_m "))
    assert row.split() == ["tracker.tracker.confirm_m", "3", "env", "QIKI_TRACKER__TRACKER__CONFIRM_M"]
    header = table.index(next(line for line in table if line.startswith("parameter")))
    assert len(table) - header - 1 == len(config.settings)
    data = config.as_json()
    assert data["parameters"]["tracker.tracker.confirm_m"] == {"value": 3, "source": "env QIKI_TRACKER__TRACKER__CONFIRM_M"}
    assert data["parameters"]["tracker.tracker.dim"]["source"] == PROFILE


def test_defaults_of_a_nested_model_come_from_the_fields_default_instance(plan):
    """radar.sr defaults to SR_DEFAULT (not RadarBand's class defaults): what the node declares too."""
    config = configure(plan, {})
    sr = {p: config.settings[f"radar.radar.sr.{p}"] for p in ("name", "band_id", "max_range_m")}
    assert {p: (s.value, s.source) for p, s in sr.items()} == {
        "name": ("sr", DEFAULT), "band_id": (1, DEFAULT), "max_range_m": (50.0, DEFAULT)}


# --- NaN and infinity ----------------------------------------------------------------------------------

from hypothesis import given, settings, strategies as st  # noqa: E402

from qiki.layered_config import ParameterNames  # noqa: E402

NON_FINITE_TEXT = [".inf", "-.inf", ".nan", ".NaN", "nan", "inf", "-inf", "Infinity"]


def _float_params(plan):
    names = ParameterNames(plan.graph)
    return sorted(f"{node}.{param}" for node, params in names.defaults.items()
                  for param, value in params.items() if isinstance(value, float))


def test_rate_factor_inf_rejected(plan):
    msg = one_line_error(plan, {}, sets=["sim.clock.rate_factor=.inf"])
    assert msg.startswith("sim.clock.rate_factor = inf (from cli --set):")


@settings(max_examples=80, deadline=None)
@given(data=st.data(), text=st.sampled_from(NON_FINITE_TEXT), layer=st.sampled_from(["set", "env", "overrides"]))
def test_non_finite_value_in_any_layer_is_rejected_naming_it(plan, tmp_path_factory, data, text, layer):
    name = data.draw(st.sampled_from(_float_params(plan)))
    node, _, param = name.partition(".")
    environ, over, sets = {}, None, []
    if layer == "set":
        sets, source = [f"{name}={text}"], "cli --set"
    elif layer == "env":
        var = f"QIKI_{node.upper()}__{param.replace('.', '__').upper()}"
        environ, source = {var: text}, f"env {var}"
    else:
        over = tmp_path_factory.mktemp("o") / "overrides.yaml"
        over.write_text(f"/**/{node}:\n  ros__parameters:\n    {param}: {text}\n")
        source = f"overrides {over}"
    msg = one_line_error(plan, environ, overrides=over, sets=sets)
    assert msg.startswith(f"{name} = ") and f"(from {source})" in msg, msg
