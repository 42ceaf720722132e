"""Shared test helper for the file loaders (descriptions, scenarios, missions): a broken file is a one-line error."""
import pytest


def one_line_error(tmp_path, name, load, error_type):
    """Return error(text): write text to tmp_path/name, load it, expect error_type with a one-line message, return it."""
    def error(text):
        p = tmp_path / name
        p.write_text(text)
        with pytest.raises(error_type) as e:
            load(p)
        assert "\n" not in str(e.value)
        return str(e.value)
    return error
