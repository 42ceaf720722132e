"""Write requirements.txt: exact pins of every distribution pip installed in the given venv.

The ROS wheels also ship their packages' own egg-info (e.g. `action_msgs`), which `pip freeze` lists
but no index serves; only distributions with pip's INSTALLER record are pinned.
Usage: python scripts/lock.py  (run with a fresh venv's python after `pip install -r requirements.in`)
"""
import importlib.metadata as md
import sys

pins = sorted(
    {f"{d.metadata['Name']}=={d.version}" for d in md.distributions()
     if (d.read_text("INSTALLER") or "").strip() == "pip" and d.metadata["Name"] != "pip"},
    key=str.lower,
)
with open("requirements.txt", "w") as out:
    out.write("# Pinned lock of requirements.in; regenerate with scripts/lock.py (docs/DEVELOPING.md).\n")
    out.write("\n".join(pins) + "\n")
print(f"requirements.txt: {len(pins)} pins", file=sys.stderr)
