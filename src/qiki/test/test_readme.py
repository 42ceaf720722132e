"""The README stays true: its topic table is what `qiki graph` prints, its commands exist."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_readme_topic_table_matches_graph_yaml():
    from qiki.cli import graph_table
    from qiki.graph import load_graph

    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- topic-table:begin")[1].split("<!-- topic-table:end -->")[0]
    table = "\n".join(block.strip().splitlines()[1:])
    assert table == graph_table(load_graph(ROOT / "config" / "graph.yaml"))


def test_readme_commands_are_make_targets_and_ci_calls_the_test_command():
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    for target in ("run", "test"):
        assert f"make {target}" in readme
        assert f"\n{target}:" in makefile
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_readme_documents_every_qiki_subcommand():
    from qiki.cli import _parser

    readme = (ROOT / "README.md").read_text()
    sub = next(a for a in _parser()._actions if a.dest == "command")
    for name in sub.choices:
        assert f"| `qiki {name}" in readme, f"qiki {name} is missing from the README's command table"
    assert "### Steer the agent from the console" in readme
