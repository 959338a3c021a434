"""Bad input that once passed the API and failed further down (HTTP 500, or a push that built for nothing):
refused at the API with a 400 naming the value and the rule, in the words every other part uses too."""
from __future__ import annotations

import pytest

from builder.errors import ProcfileError
from builder.procfile import parse_procfile
from deiscore import validation
from deiscore.errors import InvalidInput
from tests.controller.helpers import assert_error, new_app, new_user, pull, releases


def rule_message(rule, *args) -> str:
    with pytest.raises(InvalidInput) as info:
        rule(*args)
    return info.value.detail


def test_memory_below_the_engines_minimum_is_a_400(shared_controller):
    ctl = shared_controller
    _, api = new_user(ctl, "lim1m")
    app = new_app(ctl, api)
    url = f"{ctl.url}/v1/apps/{app}/limits"
    before = releases(ctl, api, app)
    for value in ("1M", "5m", "1024", "64k"):
        detail = assert_error(api.post(url, json={"memory": {"web": value}}), 400,
                              f"{value!r}", "at least 6M (the container engine's minimum)")
        assert detail.startswith("invalid memory limit")
    assert_error(api.post(url, json={"cpu": {"web": "0.001"}}), 400, "invalid cpu limit of web '0.001'", "between 0.01 and 64")
    assert releases(ctl, api, app) == before
    r = api.post(url, json={"memory": {"web": "6M"}})
    assert r.status_code == 201, r.text


def test_procfile_types_the_builder_refuses_are_refused_with_the_same_words(shared_controller):
    ctl = shared_controller
    _, api = new_user(ctl, "ptype")
    app = new_app(ctl, api)
    for ptype in ("Web", "worker--x", "run"):
        r = api.post(f"{ctl.url}/v1/apps/{app}/builds",
                     json={"image": "registry.example.com/web:1", "procfile": {ptype: "python app.py"}})
        detail = assert_error(r, 400, f"invalid process type {ptype!r}")
        assert detail == rule_message(validation.procfile_type, ptype)
        with pytest.raises(ProcfileError) as info:
            parse_procfile(f"{ptype}: python app.py\n")
        assert str(info.value) == f"Procfile line 1: {detail}: '{ptype}: python app.py'"
    assert pull(ctl, api, app, procfile={"web": "python app.py", "worker_2": "rq worker"})


def test_tags_are_checked_by_the_one_rule(shared_controller):
    ctl = shared_controller
    _, api = new_user(ctl, "tagrule")
    app = new_app(ctl, api)
    r = api.post(f"{ctl.url}/v1/apps/{app}/tags", json={"values": {"zone": "eu 1"}})
    assert_error(r, 400, "'eu 1'")
