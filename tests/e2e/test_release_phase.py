"""The release phase and app.json, end to end over git + OpenSSH and the router: a Procfile ``release:``
runs once per release that changes the build or the config; app.json's predeploy keeps its changes in
the release's image, postdeploy runs after the cutover; failures keep the old release serving; env
defaults and formation; malformed app.json and Procfiles refused with nothing released."""
from __future__ import annotations

import json
import re

import pytest

from tests.e2e.conftest import commit, wait_until

pytestmark = pytest.mark.slow

APP = '''import os
from flask import Flask

app = Flask(__name__)


@app.route("/")
def index():
    return f"release {os.environ.get('DEIS_RELEASE')}\\n"


@app.route("/baked")
def baked():
    with open("/app/baked.txt") as f:
        return f.read()


@app.route("/env/<key>")
def env(key):
    return os.environ.get(key, "(unset)")
'''
WEB = "web: gunicorn --bind 0.0.0.0:$PORT --workers 1 app:app\n"


def write(work, files: dict) -> None:
    for name, text in files.items():
        path = work / name
        if text is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(text)


def releases(platform, work) -> list[tuple[int, str]]:
    rows = platform.deis("releases", "--json", cwd=work).ok().output
    return [(r["version"], r["status"]) for r in json.loads(rows)]


def app_logs(platform, work) -> str:
    return platform.deis("logs", "-n", "1000", cwd=work).ok().output


@pytest.fixture(scope="module")
def app(live_platform):
    """A Flask app whose Procfile has a release command that prints a marker."""
    work = live_platform.checkout("python-web")
    write(work, {"app.py": APP, "Procfile": WEB + "release: echo release-phase-ran-$DEIS_RELEASE\n"})
    commit(work, "release phase")
    name = live_platform.create_app(work)
    push = live_platform.push(work)
    assert push.returncode == 0, push.output + live_platform.logs()
    return work, name


def test_the_release_command_runs_once_per_release_that_changes_build_or_config(live_platform, app):
    work, name = app
    assert live_platform.get(name).text == "release v2\n"
    live_platform.deis("config:set", "MARK=1", cwd=work).ok()  # v3: config changed -> runs
    assert live_platform.get(name).text == "release v3\n"
    live_platform.deis("scale", "web=2", cwd=work).ok()  # no release
    live_platform.deis("ps:restart", "web", cwd=work).ok()  # no release
    live_platform.deis("limits:set", "web=300M", cwd=work).ok()  # v4: neither build nor config -> skipped
    assert live_platform.get(name).text == "release v4\n"
    logs = app_logs(live_platform, work)
    runs = re.findall(rf"{name}\[release\.v(\d+)\]: release-phase-ran-v\d+", logs)
    assert runs == ["2", "3"], logs


def test_the_release_output_is_in_the_push_and_a_failure_keeps_the_old_release(live_platform, app):
    work, name = app
    write(work, {"Procfile": WEB + "release: sh -c 'echo migrating; echo migration-broke >&2; exit 3'\n"})
    commit(work, "broken release phase")
    before = releases(live_platform, work)
    push = live_platform.push(work)
    assert push.returncode != 0, push.output
    assert "release: migrating" in push.output and "migration-broke" in push.output, push.output
    assert "the release command exited with code 3" in push.output, push.output
    serving = before[0][0]
    assert f"v{serving} keeps serving" in push.output, push.output
    assert live_platform.get(name).text == f"release v{serving}\n"
    version, status = releases(live_platform, work)[0]
    assert (version, status) == (serving + 1, "failed")
    info = live_platform.deis("releases:info", f"v{version}", cwd=work).ok().output
    assert "migration-broke" in info, info


def test_predeploy_changes_are_kept_and_postdeploy_runs_after_the_cutover(live_platform, app):
    work, name = app
    manifest = {"scripts": {"dokku": {"predeploy": "echo baked-at-$DEIS_RELEASE > /app/baked.txt",
                                      "postdeploy": "echo postdeploy-saw-$DEIS_RELEASE"}}}
    write(work, {"Procfile": WEB, "app.json": json.dumps(manifest)})
    commit(work, "predeploy and postdeploy")
    push = live_platform.push(work)
    assert push.returncode == 0, push.output + live_platform.logs()
    version = releases(live_platform, work)[0][0]
    assert live_platform.get(name, "/baked").text == f"baked-at-v{version}\n"
    assert push.output.index("router:") < push.output.index(f"postdeploy: postdeploy-saw-v{version}"), push.output
    # a restart runs the release's image again: the predeploy's file is still there, the script is not rerun
    live_platform.deis("ps:restart", cwd=work).ok()
    assert live_platform.get(name, "/baked").text == f"baked-at-v{version}\n"
    assert len(re.findall(r"\[postdeploy\.v\d+\]: postdeploy-saw-", app_logs(live_platform, work))) == 1

    manifest["scripts"]["dokku"]["predeploy"] = "sh -c 'echo predeploy-broke; exit 4'"
    write(work, {"app.json": json.dumps(manifest)})
    commit(work, "broken predeploy")
    push = live_platform.push(work)
    assert push.returncode != 0 and "the predeploy command exited with code 4" in push.output, push.output
    assert "predeploy-broke" in push.output
    assert live_platform.get(name, "/baked").text == f"baked-at-v{version}\n"


def test_app_json_env_defaults_and_formation(live_platform):
    work = live_platform.checkout("python-web")
    worker = "worker: python3 -c \"import os, time; print('worker-up', os.environ['GREETING'], flush=True); time.sleep(3600)\"\n"
    manifest = {"env": {"GREETING": {"value": "hello"}, "SECRET_KEY": {"generator": "secret"}},
                "formation": {"worker": {"quantity": 1}}}
    write(work, {"Procfile": worker, "app.json": json.dumps(manifest)})
    commit(work, "worker only")
    name = live_platform.create_app(work)
    push = live_platform.push(work)
    assert push.returncode == 0, push.output + live_platform.logs()
    config = json.loads(live_platform.deis("config", "--json", cwd=work).ok().output)
    assert config["GREETING"] == "hello" and len(config["SECRET_KEY"]) == 64
    ps = live_platform.deis("ps", cwd=work).ok().output
    assert re.search(rf"{name}_v\d+\.worker\.1\s+up", ps), ps
    assert wait_until(lambda: "worker-up hello" in app_logs(live_platform, work), 20)

    # the app's own values win over the defaults; a type scaled by the user keeps its scale
    live_platform.deis("config:set", "GREETING=bonjour", cwd=work).ok()
    live_platform.deis("scale", "worker=0", cwd=work).ok()
    commit_file = work / "README"
    commit_file.write_text("again\n")
    commit(work, "again")
    push = live_platform.push(work)
    assert push.returncode == 0, push.output
    config = json.loads(live_platform.deis("config", "--json", cwd=work).ok().output)
    assert config["GREETING"] == "bonjour"
    assert ".worker." not in live_platform.deis("ps", cwd=work).ok().output


BAD = [
    ("app.json", '{\n  "scripts": {"dokku": {"predeploy": "true",}}\n}\n', "app.json line 2, column 45"),
    ("app.json", '{"healthchecks": {"web": [{"type": "nope", "path": "/"}]}}',
     "healthchecks.web[0].type 'nope' is not a health check type"),
    ("app.json", '{"cron": [{"command": "true", "schedule": "every day"}]}', "cron schedule 'every day' does not parse"),
    ("Procfile", WEB + "release:\n", "empty command for process type 'release'"),
]


def test_malformed_app_json_and_release_entries_release_nothing(live_platform, app):
    work, _ = app
    write(work, {"app.json": None, "Procfile": WEB})
    commit(work, "clean")
    live_platform.push(work).ok()
    before = releases(live_platform, work)
    for name, text, message in BAD:
        write(work, {name: text})
        commit(work, f"bad {name}")
        push = live_platform.push(work)
        assert push.returncode != 0 and message in push.output, (message, push.output)
        assert releases(live_platform, work) == before
        write(work, {"app.json": None, "Procfile": WEB})
        commit(work, "clean again")
