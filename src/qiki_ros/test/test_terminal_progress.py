"""Progress is drawn on a terminal and nowhere else."""
import io

from qiki_ros.terminal_progress import TerminalProgress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_on_a_terminal():
    out = _Tty()
    with TerminalProgress("sim", 300.0, stream=out) as p:
        assert p.enabled
        p.update(150.0, "x8.0")
    assert "sim" in out.getvalue() and "150.0 / 300.0 s" in out.getvalue()


def test_progress_is_silent_off_a_terminal():
    out = io.StringIO()
    with TerminalProgress("sim", 300.0, stream=out) as p:
        assert not p.enabled
        p.update(150.0)
    assert out.getvalue() == ""
