"""qiki_description: the shipped vehicles load; a broken description is a one-line error naming the key."""
import pytest

from qiki_description.loader import DescriptionError, load_description
from file_errors import one_line_error


def test_shipped_descriptions_load_by_name():
    bot, ship = load_description("bot"), load_description("ship")
    assert (bot.profile, ship.profile) == ("bot", "ship")
    assert bot.chassis.max_wheel_speed_radps * bot.chassis.wheel_radius_m == pytest.approx(2.0)
    assert len(ship.ship.rcs.thrusters) == 16 and "propulsion" in ship.devices


def test_description_errors_are_one_line_with_key_path(tmp_path):
    error = one_line_error(tmp_path, "v.yaml", load_description, DescriptionError)

    ship = ("profile: ship\nname: s\ndevices: [power]\nship: {dry_mass_kg: 1, propellant_kg: 1, "
            "inertia_kg_m2: [1, -2, 3], rcs: {thrusters: [{position_m: [0, 0, 1], direction: [1, 0, 0], "
            "max_thrust_n: 1, isp_s: 100}]}}\n")
    assert "v.yaml: ship.inertia_kg_m2: expected a symmetric positive definite" in error(ship)
    assert "v.yaml: ship.rcs.thrusters[0].position_m: expected a list of 3 numbers" in error(  # beyond float range
        ship.replace("-2", "2").replace("[0, 0, 1]", "[0, 0, 1" + "0" * 400 + "]"))
    assert "v.yaml: profile: expected profile 'bot' or 'ship'" in error(ship.replace("profile: ship", "profile: car"))
    assert "unknown vehicle description; valid names: bot, ship" in str(pytest.raises(
        DescriptionError, load_description, "car").value)
