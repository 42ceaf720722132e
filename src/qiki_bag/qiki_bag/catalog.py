"""The topic catalog: what a graph description says each topic carries (message type and QoS profile).

The recorder subscribes to catalogued topics before their publishers exist, with the graph's QoS; the player
falls back to a catalogued QoS for a topic recorded without any. The caller supplies the catalog: the
``qiki`` command gives the installed QIKI graph description, ``qiki_bag record|play --graph FILE`` any
YAML file with a ``topics:`` list of ``{name, type, qos}`` (the shape of QIKI's ``config/graph.yaml``;
``qos`` names a profile of :data:`qiki_ros.qos.BY_NAME`). Without one, topics are found by discovery.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from qiki_bag.errors import BagError

if TYPE_CHECKING:
    from rclpy.qos import QoSProfile

TopicCatalog = dict[str, tuple[str, "QoSProfile"]]    # topic name -> (message type, QoS profile)
SYNC_TOPIC = "/qiki/sync/step_done"                   # the QIKI graph's step barrier (StepDone)


def load_catalog(path: Path | str) -> TopicCatalog:
    """The topics of a graph description file; BagError (one line naming the file) when it cannot be read.
    Topics whose QoS name this version does not know are left to discovery."""
    from qiki_ros.qos import BY_NAME
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise BagError(path, f"cannot read the graph description ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise BagError(path, "not a text file (a graph description is YAML, e.g. config/graph.yaml)") from None
    except yaml.YAMLError as exc:
        raise BagError(path, f"not valid YAML ({' '.join(str(exc).split())})") from None
    topics = data.get("topics") if isinstance(data, dict) else None
    if not isinstance(topics, list) or not all(
            isinstance(t, dict) and isinstance(t.get("name"), str) and isinstance(t.get("type"), str) for t in topics):
        raise BagError(path, "expected a 'topics:' list of {name, type, qos} entries")
    return {t["name"]: (t["type"], BY_NAME[t.get("qos")]) for t in topics if isinstance(t.get("qos"), str) and t["qos"] in BY_NAME}
