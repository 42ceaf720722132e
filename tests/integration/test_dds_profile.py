"""config/fastdds.xml, the Fast DDS profile every process of the project gets (qiki.supervisor.graph_env), is read
by Fast DDS in a real participant with a reliable publisher: no XML parser complaint, while a broken copy of it
draws one (so the file is indeed what the process read)."""
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

CHILD = """
import rclpy
from std_msgs.msg import String
rclpy.init()
node = rclpy.create_node("qiki_profile_probe")
node.create_publisher(String, "probe", 10).publish(String(data="x"))
node.destroy_node()
rclpy.shutdown()
print("done")
"""


def probe(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=60)


def test_the_project_profile_parses_and_a_broken_one_is_reported(domain_id, tmp_path, monkeypatch):
    from qiki.plan import config_dir
    from qiki.supervisor import graph_env

    monkeypatch.delenv("FASTDDS_DEFAULT_PROFILES_FILE", raising=False)
    monkeypatch.delenv("FASTRTPS_DEFAULT_PROFILES_FILE", raising=False)
    env = graph_env(domain_id)
    assert env["FASTDDS_DEFAULT_PROFILES_FILE"] == str(config_dir() / "fastdds.xml")
    good = probe(env)
    assert good.returncode == 0 and "done" in good.stdout, good.stderr
    assert "XML" not in good.stderr, good.stderr

    for old, new in (("</heartbeat_period>", ""), (">OFF</intraprocess_delivery>", ">MAYBE</intraprocess_delivery>")):
        broken = tmp_path / "broken.xml"        # each setting is one Fast DDS reads: spoiling it is reported
        broken.write_text((config_dir() / "fastdds.xml").read_text().replace(old, new))
        bad = probe(dict(env, FASTDDS_DEFAULT_PROFILES_FILE=str(broken)))
        assert "XML" in bad.stderr, (old, bad.stderr)
