"""The release phase's pure parts (which steps run, when; output lines) and what a build carries from
app.json and the Procfile to the controller (release command, env defaults, formation), through the
builder's hook of a real controller."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from controller.builds import env_defaults, initial_scale
from controller.release_phase import Lines, Step, needed, steps
from deiscore import appjson
from tests.controller.helpers import assert_error, new_app, new_user, releases
from tests.controller.test_hooks import hook


def release(build_id=1, values=None, release_command=None, app_json=None):
    build = SimpleNamespace(release_command=release_command, app_json=app_json)
    return SimpleNamespace(build_id=build_id, build=build, config=SimpleNamespace(values=values or {}))


def test_the_phase_runs_for_a_new_build_or_config_only():
    serving = release(1, {"A": "1"})
    assert needed(release(1, {"A": "1"}), None)  # the first deploy
    assert needed(release(2, {"A": "1"}), serving)  # a new build (or a rollback to another)
    assert needed(release(1, {"A": "2"}), serving)  # a config change
    assert not needed(release(1, {"A": "1"}), serving)  # limits, tags: same build and config


def test_steps_in_order_predeploy_release_then_postdeploy():
    manifest = appjson.normalize({"scripts": {"dokku": {"predeploy": "bake", "postdeploy": "tell"}}})
    assert steps(release(release_command="migrate", app_json=manifest)) == (
        [Step("predeploy", "bake"), Step("release", "migrate")], [Step("postdeploy", "tell")])
    heroku = appjson.normalize({"scripts": {"postdeploy": "seed"}})
    assert steps(release(app_json=heroku)) == ([], [Step("postdeploy", "seed")])
    assert steps(release()) == ([], [])


def test_output_chunks_become_lines_and_the_last_ones_are_kept():
    seen = []
    lines = Lines(seen.append)
    for chunk in (b"mig", b"rating\r\nstep ", b"2\n", "caf\u00e9".encode()[:4], "caf\u00e9".encode()[4:], b"\n"):
        lines.feed(chunk)
    lines.feed(b"no newline")
    lines.close()
    assert seen == ["migrating", "step 2", "caf\u00e9", "no newline"]
    many = Lines(lambda line: None)
    many.feed(b"".join(b"%d\n" % i for i in range(50)))
    assert list(many.last) == [str(i) for i in range(40, 50)]


def test_env_defaults_and_formation():
    env = appjson.normalize({"env": {"A": "1", "B": {"value": "2"}, "S": {"generator": "secret"},
                                     "R": {"required": True}}})["env"]
    added = env_defaults(env, {"B": "mine", "R": "set"})
    assert added["A"] == "1" and "B" not in added and "R" not in added and len(added["S"]) == 64
    assert env_defaults(env, {"R": "x"})["S"] != added["S"]  # generated anew for each app that lacks it
    with pytest.raises(Exception, match="env R is required"):
        env_defaults(env, {})
    procfile = {"web": "serve", "worker": "work", "clock": "tick"}
    assert initial_scale({}, procfile, {"worker": 2}) == {"web": 1, "worker": 2}
    assert initial_scale({"web": 3, "worker": 0}, procfile, {"worker": 2, "clock": 1}) == {"web": 3, "worker": 0,
                                                                                          "clock": 1}
    assert initial_scale({}, {"worker": "work"}, {"worker": 1}) == {"worker": 1}  # a worker-only app runs
    assert initial_scale({}, {"web": "serve"}, {"worker": 1}) == {"web": 1}  # no such type: nothing to scale


def test_a_build_carries_its_release_command_and_app_json(shared_controller):
    ctl = shared_controller
    new_user(ctl, "admin")
    pusher, api = new_user(ctl, "phase")
    app = new_app(ctl, api)
    image = f"127.0.0.1:5000/{app}@sha256:{'d' * 64}"
    build = {"app": app, "user": pusher, "image": image, "sha": "abc1234", "kind": "buildpack",
             "procfile": {"web": "serve", "worker": "work"}, "release_command": "python manage.py migrate",
             "app_json": {"env": {"GREETING": "hi", "TOKEN": {"required": True}},
                          "formation": {"worker": {"quantity": 2}}}}

    # refused, nothing written: a required key the app lacks, a bad app.json, an empty release command
    before = releases(ctl, api, app)
    assert_error(hook(ctl, "builds", build), 400, "env TOKEN is required", "deis config:set TOKEN=")
    bad = {**build, "app_json": {"cron": [{"command": "x", "schedule": "99 * * * *"}]}}
    assert_error(hook(ctl, "builds", bad), 400, "cron schedule '99 * * * *' does not parse")
    assert_error(hook(ctl, "builds", {**build, "app_json": ["not", "an", "object"]}), 400, "top level must be an object")
    assert_error(hook(ctl, "builds", {**build, "release_command": " "}), 400, "command of release")
    assert releases(ctl, api, app) == before

    assert api.post(f"{ctl.url}/v1/apps/{app}/config", json={"values": {"TOKEN": "t"}}).status_code == 201
    r = hook(ctl, "builds", build)
    assert r.status_code == 201, r.text
    assert r.json()["build"]["release_command"] == "python manage.py migrate"
    assert r.json()["build"]["app_json"]["formation"] == {"worker": 2}
    values = api.get(f"{ctl.url}/v1/apps/{app}/config").json()["values"]
    assert values == {"TOKEN": "t", "GREETING": "hi"}
    assert api.get(f"{ctl.url}/v1/apps/{app}").json()["structure"] == {"web": 1, "worker": 2}
    assert "added GREETING" in releases(ctl, api, app)[-1]["summary"]
