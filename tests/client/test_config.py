"""deis config:set / list / unset / pull / push: values stay byte-exact end to end."""
from __future__ import annotations

import json

import pytest

from client import dotenv
from tests.client.conftest import DeisCLI

TRICKY = {
    "MULTILINE": "line one\nline two\n\nline four\n",
    "QUOTES": "she said \"hi\" and 'bye'",
    "EQUALS": "postgres://u:p@db/app?sslmode=require&x==y=",
    "UNICODE": "héllo wörld ✓ 日本語 🚀",
    "SPACES": "  leading and trailing  ",
    "SHELLY": "$HOME `id` $(rm -rf /) ; && | > < \\ \\n #not-a-comment",
    "TABS_CR": "a\tb\r\nc",
    "EMPTY": "",
    "lower_case_9": "x",
}


def test_set_list_unset_byte_exact(user: DeisCLI):
    app = user.create_app()
    out = user.ok("config:set", *(f"{k}={v}" for k, v in TRICKY.items()), "-a", app)
    assert out == f"Creating config... done, {app} v2\n"
    assert user.json("config:list", "-a", app) == TRICKY
    assert user.json("config", "-a", app) == TRICKY  # shortcut

    text = user.ok("config", "-a", app)
    assert text.startswith(f"=== {app} Config\n") and "UNICODE" in text and "日本語 🚀" in text

    user.ok("config:set", "QUOTES=changed", "NEW=1", "-a", app)
    assert user.ok("config:unset", "MULTILINE", "EMPTY", "-a", app) == f"Creating config... done, {app} v4\n"
    expected = {k: v for k, v in TRICKY.items() if k not in ("MULTILINE", "EMPTY")} | {"QUOTES": "changed",
                                                                                         "NEW": "1"}
    assert user.json("config", "-a", app) == expected
    summaries = [r["summary"] for r in user.json("releases", "-a", app)]
    assert summaries[:3] == ["removed EMPTY, MULTILINE", "added NEW, changed QUOTES",
                             "added " + ", ".join(sorted(TRICKY))]
    assert user.ok("config", "--oneline", "-a", app).strip().startswith("EQUALS=postgres://")


def test_bad_input_refused_and_nothing_written(user: DeisCLI):
    app = user.create_app()
    user.ok("config:set", "KEEP=1", "-a", app)
    cases = [
        (["1BAD=x"], "invalid config key '1BAD'"),
        (["BAD-KEY=x"], "invalid config key"),
        (["GOOD=1", "ALSO BAD=2"], "invalid config key 'ALSO BAD'"),
        (["DEIS_APP=x"], "set by the platform"),
        (["PORT=8080"], "set by the platform"),
        (["=value"], "expected KEY=VALUE"),
        (["NOVALUE"], "expected KEY=VALUE, got 'NOVALUE'"),
        (["KEEP=1"], "nothing changed"),
        (["CTRL=a\x01b", "Z=" + "x" * (64 * 1024 + 1)], "longer than 65536 bytes"),
    ]
    for pairs, message in cases:
        user.fails("config:set", *pairs, "-a", app, expect=message)
    user.fails("config:set", "-a", app, expect="Missing argument")
    user.fails("config:set", "A=1", "-a", "no-such-app", expect="not found")
    assert user.json("config", "-a", app) == {"KEEP": "1"}
    assert [r["version"] for r in user.json("releases", "-a", app)] == [2, 1]


def test_pull_push_round_trip(user: DeisCLI):
    source, target = user.create_app(), user.create_app()
    user.ok("config:set", *(f"{k}={v}" for k, v in TRICKY.items()), "-a", source)
    out = user.ok("config:pull", "-a", source)
    assert out == f"Wrote {len(TRICKY)} values to .env\n"
    env_file = user.cwd / ".env"
    assert dotenv.loads(env_file.read_text()) == TRICKY

    user.ok("config:push", "-a", target)
    assert user.json("config", "-a", target) == TRICKY

    # values already in the file win unless --overwrite
    env_file.write_text("QUOTES=local\nONLY_LOCAL=yes\n")
    user.ok("config:pull", "-a", source)
    merged = dotenv.loads(env_file.read_text())
    assert merged["QUOTES"] == "local" and merged["ONLY_LOCAL"] == "yes" and merged["UNICODE"] == TRICKY["UNICODE"]
    user.ok("config:pull", "-a", source, "--overwrite")
    assert dotenv.loads(env_file.read_text())["QUOTES"] == TRICKY["QUOTES"]

    other = user.cwd / "other.env"
    user.ok("config:pull", "-a", source, "-o", str(other))
    assert dotenv.loads(other.read_text()) == TRICKY


def test_push_refusals(user: DeisCLI):
    app = user.create_app()
    user.fails("config:push", "-a", app, expect=".env not found")
    env_file = user.cwd / ".env"
    for text, message in [("# only a comment\n", "has no values"), ("NOT A LINE\n", "line 1: expected KEY=value"),
                          ('A="unterminated\n', "missing closing quote"), ("1BAD=x\n", "line 1")]:
        env_file.write_text(text)
        user.fails("config:push", "-a", app, expect=message)
    env_file.write_text("DEIS_RELEASE=9\n")
    user.fails("config:push", "-a", app, expect="set by the platform")
    assert user.json("config", "-a", app) == {}


@pytest.mark.parametrize("values", [TRICKY, {"A": "\\", "B": "\\\\n", "C": "#", "D": "'", "E": '"', "F": " #x"}])
def test_dotenv_round_trip(values):
    text = dotenv.dumps(values)
    assert dotenv.loads(text) == values
    assert json.loads(json.dumps(dotenv.loads(text))) == values
