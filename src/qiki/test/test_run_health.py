"""A run's health from its /diagnostics statuses: the worst level over the run and why, per node."""
from hypothesis import given, settings, strategies as st

from qiki.run_health import NO_REPORT, HealthHistory

NODES = ["sim", "radar", "tracker"]


def test_worst_level_is_kept_after_recovery_with_its_message_and_time():
    h = HealthHistory()
    h.add("qiki/tracker", 0, "ok", 1.0)
    h.add("qiki/tracker", 2, "frames dropped: 12", 5.0)
    h.add("qiki/tracker", 1, "latency high", 6.0)
    h.add("qiki/tracker", 0, "ok", 9.0)
    for node in ("sim", "radar"):
        h.add(f"qiki/{node}", 0, "ok", 1.0)
    out = h.summary(NODES)
    assert out["level"] == "ERROR"
    t = out["nodes"]["tracker"]
    assert (t["worst"], t["why"], t["worst_at_sim_s"]) == ("ERROR", "frames dropped: 12", 5.0)
    assert (t["final"], t["final_message"], t["reports"], t["reports_not_ok"]) == ("OK", "ok", 4, 2)
    assert out["nodes"]["sim"]["worst"] == "OK"


def test_a_node_without_any_status_is_stale_and_devices_are_apart():
    h = HealthHistory()
    h.add("qiki/sim", 0, "ok", 0.5)
    h.add("qiki/radar", 0, "ok", 0.5)
    h.add("qiki/radar_sr", 2, "device failed", 3.0)      # a device status of the agent, not a node
    out = h.summary(NODES)
    assert out["nodes"]["tracker"]["worst"] == "STALE" and out["nodes"]["tracker"]["why"] == NO_REPORT
    assert out["level"] == "STALE"
    assert out["devices"]["radar_sr"]["worst"] == "ERROR"
    assert set(out["nodes"]) == set(NODES)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(NODES), st.integers(0, 3), st.text(max_size=5)), min_size=1))
def test_worst_is_the_maximum_seen_and_final_the_last(reports):
    h = HealthHistory()
    for i, (node, level, msg) in enumerate(reports):
        h.add(f"qiki/{node}", level, msg, float(i))
    out = h.summary(NODES)
    names = {0: "OK", 1: "WARN", 2: "ERROR", 3: "STALE"}
    for node in NODES:
        mine = [(i, lvl, msg) for i, (n, lvl, msg) in enumerate(reports) if n == node]
        if not mine:
            assert out["nodes"][node]["reports"] == 0
            continue
        worst = max(lvl for _, lvl, _ in mine)
        first_worst = next((i, msg) for i, lvl, msg in mine if lvl == worst)
        got = out["nodes"][node]
        assert got["worst"] == names[worst] and (got["worst_at_sim_s"], got["why"]) == (float(first_worst[0]),
                                                                                        first_worst[1])
        assert got["final"] == names[mine[-1][1]] and got["reports"] == len(mine)
    assert out["level"] == max((out["nodes"][n]["worst"] for n in NODES),
                               key=lambda name: {v: k for k, v in names.items()}[name])
