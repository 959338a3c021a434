import pytest

from builder.errors import ProcfileError
from builder.procfile import parse_procfile


def test_types_in_file_order_with_comments_and_blank_lines():
    text = "# processes\n\nweb: gunicorn app:app --bind 0.0.0.0:$PORT\nworker:python worker.py  \n"
    assert parse_procfile(text) == {"web": "gunicorn app:app --bind 0.0.0.0:$PORT", "worker": "python worker.py"}
    assert list(parse_procfile(text)) == ["web", "worker"]


def test_command_keeps_colons_and_quotes():
    assert parse_procfile('clock: bash -c "echo a:b; sleep 1"') == {"clock": 'bash -c "echo a:b; sleep 1"'}


def test_windows_line_endings_and_underscores():
    assert parse_procfile("web: a\r\nmy_worker-2: b\r\n") == {"web": "a", "my_worker-2": "b"}


def test_empty_procfile_has_no_types():
    assert parse_procfile("# nothing yet\n\n") == {}


@pytest.mark.parametrize("text, line, reason", [
    ("web: ok\nthis is not a process\n", 2, "expected 'type: command'"),
    ("web: ok\n\n: no type\n", 3, "missing process type"),
    ("web: ok\nweb: again\n", 2, "duplicate process type 'web' (first defined on line 1)"),
    ("web:\n", 1, "empty command"),
    ("we/b: x\n", 1, "invalid process type"),
    ("-web: x\n", 1, "invalid process type"),
])
def test_malformed_lines_cite_the_line_number(text, line, reason):
    with pytest.raises(ProcfileError) as info:
        parse_procfile(text)
    assert info.value.line_number == line
    assert reason in str(info.value)
    assert f"Procfile line {line}:" in str(info.value)

