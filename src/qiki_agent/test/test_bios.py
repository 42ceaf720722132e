"""Power-on self test: grading of declared devices, staleness, bad values, health score."""
import math

import pytest

from qiki_agent.bios import ERROR, OK, STALE, WARN, Reading, SelfTest, Threshold

DEVICES = ["radar_lr", "radar_sr", "navigation", "drive", "power", "comms"]
NOW = 100.0


def fresh(level=OK, value=1.0, age_s=0.1):
    return Reading(level=level, value=value, stamp_s=NOW - age_s)


def all_ok(**overrides):
    readings = {name: fresh() for name in DEVICES}
    readings.update(overrides)
    return readings


@pytest.fixture
def bios():
    return SelfTest(DEVICES, min_value={"power": Threshold(warn_below=0.2, error_below=0.05)}, stale_after_s=2.0)


def level_of(result, name):
    return next(d.level for d in result.devices if d.name == name)


def test_all_ok_is_go_with_full_score(bios):
    result = bios.run(NOW, all_ok())
    assert result.all_systems_go
    assert result.health_score == 1.0
    assert [d.name for d in result.devices] == DEVICES
    assert all(d.level == OK for d in result.devices)


def test_missing_device_is_stale_and_no_go(bios):
    readings = all_ok()
    del readings["comms"]
    result = bios.run(NOW, readings)
    assert level_of(result, "comms") == STALE
    assert not result.all_systems_go
    assert result.health_score == pytest.approx(5 / 6)


def test_old_reading_is_stale(bios):
    result = bios.run(NOW, all_ok(navigation=fresh(age_s=2.5)))
    assert level_of(result, "navigation") == STALE
    assert not result.all_systems_go


def test_reading_just_inside_stale_limit_is_ok(bios):
    result = bios.run(NOW, all_ok(navigation=fresh(age_s=1.9)))
    assert level_of(result, "navigation") == OK


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_value_is_error(bios, bad):
    result = bios.run(NOW, all_ok(drive=fresh(value=bad)))
    drive = next(d for d in result.devices if d.name == "drive")
    assert drive.level == ERROR
    assert "not a finite number" in drive.message
    assert not result.all_systems_go


def test_warn_halves_that_device_score_and_stays_go(bios):
    result = bios.run(NOW, all_ok(radar_sr=fresh(level=WARN)))
    assert level_of(result, "radar_sr") == WARN
    assert result.all_systems_go
    assert result.health_score == pytest.approx((5 + 0.5) / 6)


@pytest.mark.parametrize("value, expected", [(0.5, OK), (0.1, WARN), (0.01, ERROR)])
def test_power_threshold(bios, value, expected):
    result = bios.run(NOW, all_ok(power=fresh(value=value)))
    assert level_of(result, "power") == expected


def test_reported_level_wins_over_a_passing_threshold(bios):
    result = bios.run(NOW, all_ok(power=fresh(level=ERROR, value=0.9)))
    assert level_of(result, "power") == ERROR
    assert not result.all_systems_go


def test_undeclared_devices_are_ignored(bios):
    result = bios.run(NOW, all_ok(lidar=fresh(level=ERROR, value=math.nan)))
    assert [d.name for d in result.devices] == DEVICES
    assert result.all_systems_go and result.health_score == 1.0


def test_threshold_for_undeclared_device_is_rejected():
    with pytest.raises(ValueError, match="lidar"):
        SelfTest(DEVICES, min_value={"lidar": Threshold(0.2, 0.05)})
