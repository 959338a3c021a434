"""Config through the live API: byte-exact values, validation that writes nothing, summaries."""
from __future__ import annotations

import json

from tests.controller.helpers import assert_error, new_app, new_user, releases, set_config

TRICKY = {
    "NEWLINES": "line one\nline two\n\nline four\n",
    "CRLF": "a\r\nb\r",
    "QUOTES": "it's \"quoted\" `back`",
    "EQUALS": "postgres://u:p@h/db?sslmode=require&x==y=",
    "UNICODE": "caf\u00e9 \u65e5\u672c\u8a9e \u0645\u0631\u062d\u0628\u0627 \u2028sep",
    "EMOJI": "\U0001f680\U0001f468\u200d\U0001f469\u200d\U0001f467",
    "SPACES": "  padded  ",
    "TABS": "\tx\t",
    "BACKSLASH": "C:\\path\\n\\\\",
    "HASH": "value # not a comment",
    "EMPTY": "",
    "JSON": json.dumps({"a": [1, "two"], "b": None}),
    "DOLLAR": "$HOME ${PATH}",
    "lower_case": "fine",
}


def config_of(ctl, api, app):
    r = api.get(f"{ctl.url}/v1/apps/{app}/config")
    assert r.status_code == 200, r.text
    return r.json()["values"]


def test_values_round_trip_byte_exact(shared_controller):
    ctl = shared_controller
    _, api = new_user(ctl, "cfg")
    app = new_app(ctl, api)
    r = set_config(ctl, api, app, TRICKY)
    assert r.status_code == 201, r.text
    assert r.json()["values"] == TRICKY and r.json()["release"] == 2
    got = config_of(ctl, api, app)
    assert got == TRICKY
    for key, value in TRICKY.items():
        assert got[key].encode() == value.encode(), key
    # a release's info carries the same values
    info = api.get(f"{ctl.url}/v1/apps/{app}/releases/v2").json()
    assert info["config_values"] == TRICKY


def test_bad_input_changes_nothing(shared_controller):
    ctl = shared_controller
    _, api = new_user(ctl, "cfgbad")
    app = new_app(ctl, api)
    assert set_config(ctl, api, app, {"GOOD": "1"}).status_code == 201
    before_config, before_releases = config_of(ctl, api, app), releases(ctl, api, app)
    bad = [
        ({"values": {"BAD-KEY": "x"}}, "invalid config key"),
        ({"values": {"1ABC": "x"}}, "invalid config key"),
        ({"values": {"": "x"}}, "invalid config key"),
        ({"values": {"SP ACE": "x"}}, "invalid config key"),
        ({"values": {"OK": "fine", "NUL": "a\x00b"}}, "NUL"),  # one bad value: none is written
        ({"values": {"OK": "fine", "bad.key": "x"}}, "invalid config key"),
        ({"values": {"PORT": "80"}}, "set by the platform"),
        ({"values": {"DEIS_APP": "x"}}, "set by the platform"),
        ({"values": {"NUM": 5}}, "must be a string"),
        ({"values": {"LIST": ["a"]}}, "must be a string"),
        ({"values": {"BIG": "x" * (64 * 1024 + 1)}}, "longer than"),
        ({"values": {}}, "non-empty"),
        ({"values": ["A=1"]}, "non-empty"),
        ({"values": "A=1"}, "non-empty"),
        ({}, "non-empty"),
        ({"values": {"GOOD": "1"}}, "nothing changed"),
        ({"values": {"NEVER_SET": None}}, "nothing changed"),
    ]
    for body, fragment in bad:
        r = api.post(f"{ctl.url}/v1/apps/{app}/config", json=body)
        assert_error(r, 400, fragment)
    assert config_of(ctl, api, app) == before_config == {"GOOD": "1"}
    assert releases(ctl, api, app) == before_releases


def test_unset_and_summaries(shared_controller):
    ctl = shared_controller
    _, api = new_user(ctl, "cfgsum")
    app = new_app(ctl, api)
    assert set_config(ctl, api, app, {"A": "1", "B": "2", "C": "3"}).status_code == 201
    r = set_config(ctl, api, app, {"B": "two", "C": None, "D": "4"})
    assert r.status_code == 201, r.text
    assert r.json()["values"] == {"A": "1", "B": "two", "D": "4"}
    r = set_config(ctl, api, app, {"A": None, "D": None})
    assert r.status_code == 201
    assert config_of(ctl, api, app) == {"B": "two"}
    summaries = [rel["summary"] for rel in releases(ctl, api, app)]
    assert summaries[1:] == ["added A, B, C", "added D, changed B, removed C", "removed A, D"]
    assert [rel["version"] for rel in releases(ctl, api, app)] == [1, 2, 3, 4]


def test_collaborator_may_set_config_and_stranger_may_not(shared_controller):
    ctl = shared_controller
    _, api = new_user(ctl, "cfgown")
    collaborator, collab_api = new_user(ctl, "cfgcol")
    _, stranger = new_user(ctl, "cfgstr")
    app = new_app(ctl, api)
    api.post(f"{ctl.url}/v1/apps/{app}/perms", json={"username": collaborator})
    assert set_config(ctl, collab_api, app, {"BY_COLLAB": "yes"}).status_code == 201
    assert_error(set_config(ctl, stranger, app, {"BY_STRANGER": "yes"}), 404)
    assert_error(set_config(ctl, ctl.api(), app, {"ANON": "yes"}), 401)
    assert config_of(ctl, api, app) == {"BY_COLLAB": "yes"}
    assert releases(ctl, api, app)[-1]["owner"] == collaborator
