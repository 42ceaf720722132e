"""Output caps (qiki.output_rotation): the oldest finished outputs go first, the current one and anything
that is not a finished output never go, both caps hold afterwards."""
import os

from qiki.output_rotation import describe, finished_outputs, rotate, tree_bytes


def make_run(parent, name, age_s, size=1000, marker="summary.json"):
    """A finished run directory of about `size` bytes whose marker was written age_s seconds ago."""
    run = parent / name
    (run / "logs").mkdir(parents=True)
    (run / "logs" / "sim.log").write_bytes(b"x" * size)
    (run / marker).write_text("{}")
    t = 1_800_000_000 - age_s
    os.utime(run / marker, (t, t))
    return run


def names(parent):
    return sorted(p.name for p in parent.iterdir())


def test_count_cap_removes_the_oldest_by_finish_time_not_by_name(tmp_path):
    # names sort the other way round from the finish times: age decides
    for name, age in [("a", 10), ("b", 40), ("c", 20), ("d", 30)]:
        make_run(tmp_path, name, age)
    removed = rotate(tmp_path, max_bytes=None, max_count=2)
    assert [o.path.name for o in removed] == ["b", "d"]
    assert names(tmp_path) == ["a", "c"]


def test_current_output_is_counted_but_never_removed(tmp_path):
    for name, age in [("old1", 30), ("old2", 20)]:
        make_run(tmp_path, name, age)
    current = make_run(tmp_path, "current", 100)   # oldest marker of all, yet it is the one being written
    removed = rotate(tmp_path, max_bytes=None, max_count=2, keep=current)
    assert [o.path.name for o in removed] == ["old1"]
    assert names(tmp_path) == ["current", "old2"]
    assert rotate(tmp_path, max_bytes=None, max_count=1, keep=current)[0].path.name == "old2"
    assert rotate(tmp_path, max_bytes=1, max_count=1, keep=current) == []    # nothing else to remove
    assert current.exists()


def test_size_cap_removes_oldest_until_under_the_cap(tmp_path):
    for i in range(5):
        make_run(tmp_path, f"run{i}", age_s=100 - i, size=10_000)
    per_run = tree_bytes(tmp_path / "run0")
    assert per_run >= 10_000
    removed = rotate(tmp_path, max_bytes=3 * per_run, max_count=None)
    assert [o.path.name for o in removed] == ["run0", "run1"]
    assert sum(o.bytes for o in finished_outputs(tmp_path)) <= 3 * per_run
    assert "removed 2 oldest output(s)" in describe(removed) and "run0 .. run1" in describe(removed)


def test_under_both_caps_nothing_is_removed(tmp_path):
    for i in range(3):
        make_run(tmp_path, f"run{i}", age_s=i)
    assert rotate(tmp_path, max_bytes=10 ** 9, max_count=3) == []
    assert len(names(tmp_path)) == 3


def test_unfinished_outputs_and_foreign_entries_are_never_touched(tmp_path):
    make_run(tmp_path, "old", 50)
    make_run(tmp_path, "soak", 40, marker="soak.json")
    (tmp_path / "in-progress" / "logs").mkdir(parents=True)          # a concurrent run: no summary yet
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    (tmp_path / "file.txt").write_text("keep me")
    os.symlink(tmp_path / "old", tmp_path / "link")
    removed = rotate(tmp_path, max_bytes=None, max_count=1)
    assert [o.path.name for o in removed] == ["old"]
    assert names(tmp_path) == ["file.txt", "in-progress", "link", "notes", "soak"]


def test_missing_parent_is_empty(tmp_path):
    assert rotate(tmp_path / "nowhere", max_bytes=1, max_count=1) == []


def test_bag_parent_rotates_bags_only(tmp_path):
    marker = "metadata.yaml"
    make_run(tmp_path, "bag_a", 20, marker=marker)
    make_run(tmp_path, "bag_b", 10, marker=marker)
    make_run(tmp_path, "run", 30)                                    # not a bag: untouched
    removed = rotate(tmp_path, max_bytes=None, max_count=1, markers=(marker,))
    assert [o.path.name for o in removed] == ["bag_a"]
    assert names(tmp_path) == ["bag_b", "run"]


def test_explicit_out_parent_is_rotated_only_with_a_cap(tmp_path, monkeypatch):
    from qiki.cli import rotate_outputs
    monkeypatch.setattr("qiki.cli.DEFAULT_MAX_COUNT", 2)           # small, so that the default cap bites here
    for i in range(4):
        make_run(tmp_path, f"run{i}", age_s=10 - i)
    out = tmp_path / "mine"
    out.mkdir()
    rotate_outputs(out, None, None, explicit_out=True)             # e.g. --out /tmp/x: /tmp is not ours
    assert len(names(tmp_path)) == 5
    rotate_outputs(out, 3, None, explicit_out=True)
    assert names(tmp_path) == ["mine", "run2", "run3"]
    rotate_outputs(out, None, None, explicit_out=False)            # default runs/: the default caps apply
    assert names(tmp_path) == ["mine", "run3"]
