"""Discovery range of every process the project starts: LOCALHOST unless the environment names another
explicitly; ROS_STATIC_PEERS passed on; values rmw would refuse are one line."""
import pytest

from qiki_ros.discovery import DiscoveryError, discovery_env


def test_unset_or_empty_is_localhost_and_an_explicit_range_is_kept():
    assert discovery_env({}) == {"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    assert discovery_env({"ROS_AUTOMATIC_DISCOVERY_RANGE": " "}) == {"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    for chosen in ("LOCALHOST", "SUBNET", "OFF", "SYSTEM_DEFAULT"):
        assert discovery_env({"ROS_AUTOMATIC_DISCOVERY_RANGE": chosen}) == {"ROS_AUTOMATIC_DISCOVERY_RANGE": chosen}


def test_static_peers_are_passed_on():
    env = {"ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET", "ROS_STATIC_PEERS": "192.168.1.10;robot-2.local"}
    assert discovery_env(env) == env
    assert "ROS_STATIC_PEERS" not in discovery_env({"ROS_STATIC_PEERS": ""})


@pytest.mark.parametrize("env", [{"ROS_AUTOMATIC_DISCOVERY_RANGE": "subnet"},
                                 {"ROS_AUTOMATIC_DISCOVERY_RANGE": "WAN\nx"},
                                 {"ROS_STATIC_PEERS": "10.0.0.1;;10.0.0.2"},
                                 {"ROS_STATIC_PEERS": "10.0.0.1 10.0.0.2"}])
def test_values_rmw_refuses_are_one_line_naming_the_variable(env):
    with pytest.raises(DiscoveryError) as err:
        discovery_env(env)
    assert str(err.value).startswith("$ROS_") and "\n" not in str(err.value)


def test_the_project_profile_is_named_unless_the_environment_names_one():
    from qiki_ros.discovery import profiles_env
    assert profiles_env({}, "/cfg/fastdds.xml") == {"FASTDDS_DEFAULT_PROFILES_FILE": "/cfg/fastdds.xml"}
    assert profiles_env({"FASTDDS_DEFAULT_PROFILES_FILE": " "}, "/cfg/x.xml") == {"FASTDDS_DEFAULT_PROFILES_FILE": "/cfg/x.xml"}
    for name in ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE"):
        assert profiles_env({name: "/mine.xml"}, "/cfg/fastdds.xml") == {}
