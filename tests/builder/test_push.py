"""End to end: real git and OpenSSH push to the builder; real Redis, Docker, registry, controller."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest
import requests

from deiscore.settings import load
from tests.builder.conftest import commit, git
from tests.gitserve import dumb_http_git

pytestmark = pytest.mark.slow


def fingerprint_of(key) -> str:
    out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", f"{key}.pub"], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return out.split()[1]


def versions(platform, token, app) -> list[int]:
    return platform.releases_versions(token, app)


def docker_run(image: str, *args: str) -> str:
    proc = subprocess.run(["docker", "run", "--rm", image, *args], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout
    return proc.stdout


def test_python_app_builds_releases_and_rebuilds_warm(platform, owner):
    _, token, key = owner
    app = platform.create_app(token)
    work = platform.checkout("python-web")
    sha = subprocess.run(["git", "-C", str(work), "rev-parse", "HEAD"], stdout=subprocess.PIPE,
                         text=True).stdout.strip()
    result = platform.push(work, key, app)
    assert result.returncode == 0, result.output + platform.logs()
    remote = result.remote
    assert "-----> Python app detected" in remote
    assert "Installing dependencies from requirements.txt" in remote
    assert "Procfile declares types -> web" in remote
    assert f"{app} v2 deployed" in remote
    assert f"http://{app}." in remote
    assert platform.repo_ref(app) == sha
    assert versions(platform, token, app) == [1, 2]
    image = f"{platform.registry}/{app}:{sha}"
    assert sha in platform.registry_client().tags(app)
    # The release runs the digest the builder pushed, not the tag (which could be moved).
    digest = platform.registry_client().digest(app, sha)
    latest = max(platform.releases(token, app), key=lambda r: r["version"])
    assert digest.startswith("sha256:") and latest["image"] == f"{platform.registry}/{app}@{digest}"
    # The image runs a Procfile command through /runner/init with the slug's virtualenv on PATH.
    assert docker_run(image, "python -c 'import flask, gunicorn; print(\"deps-ok\", flask.__name__)'") \
        .strip().endswith("deps-ok flask")

    (work / "app.py").write_text((work / "app.py").read_text() + "\n# warm rebuild\n")
    sha2 = commit(work, "change code only")
    result = platform.push(work, key, app)
    assert result.returncode == 0, result.output
    assert "requirements.txt unchanged: reusing cached dependencies" in result.remote
    assert "Installing dependencies" not in result.remote
    assert f"{app} v3 deployed" in result.remote
    assert platform.repo_ref(app) == sha2


def test_static_site_serves_its_files(platform, owner):
    _, token, key = owner
    app = platform.create_app(token)
    result = platform.push(platform.checkout("static-site"), key, app)
    assert result.returncode == 0, result.output + platform.logs()
    assert "-----> Static site app detected" in result.remote
    assert "Default types for this app -> web" in result.remote
    sha = platform.repo_ref(app)
    # As the scheduler will run it: docker run IMAGE "<command>", with PORT set.
    name = f"test-{app}"
    subprocess.run(["docker", "run", "-d", "--name", name, "-e", "PORT=5000", "-p", "127.0.0.1::5000",
                    f"{platform.registry}/{app}:{sha}",
                    'python3 -m http.server "$PORT" --bind 0.0.0.0 --directory /app'], check=True,
                   stdout=subprocess.DEVNULL)
    try:
        port = subprocess.run(["docker", "port", name, "5000/tcp"], stdout=subprocess.PIPE, text=True,
                              check=True).stdout.split(":")[-1].strip()
        body = None
        for _ in range(50):
            try:
                body = requests.get(f"http://127.0.0.1:{port}/", timeout=1).text
                break
            except requests.RequestException:
                threading.Event().wait(0.1)
        assert body is not None and "Hello from a static site" in body
    finally:
        subprocess.run(["docker", "rm", "-f", name], stdout=subprocess.DEVNULL)
    assert versions(platform, token, app) == [1, 2]


def test_dockerfile_app_gets_config_as_build_args(platform, owner):
    _, token, key = owner
    app = platform.create_app(token)
    r = platform.controller.api(token).post(f"{platform.controller.url}/v1/apps/{app}/config",
                                            json={"values": {"GREETING": "hola, mundo"}}, timeout=10)
    assert r.status_code in (200, 201), r.text
    result = platform.push(platform.checkout("dockerfile-app"), key, app)
    assert result.returncode == 0, result.output + platform.logs()
    assert "-----> Dockerfile app detected" in result.remote
    assert "Default types for this app -> web" in result.remote  # the image's own command runs as web
    assert f"{app} v3 deployed" in result.remote
    image = f"{platform.registry}/{app}:{platform.repo_ref(app)}"
    assert docker_run(image, "python3", "-c", "import os; print(os.environ['GREETING'])").strip() == "hola, mundo"


def assert_rejected(platform, token, app, result, *messages):
    assert result.returncode != 0, result.output
    for message in messages:
        assert message in result.output, result.output
    assert "[remote rejected] master -> master (build failed)" in result.output
    assert platform.repo_ref(app) is None
    assert versions(platform, token, app) == [1]


def test_broken_procfile_fails_with_the_line_number(platform, owner):
    _, token, key = owner
    app = platform.create_app(token)
    work = platform.checkout("static-site")
    (work / "Procfile").write_text("web: python3 -m http.server $PORT\nworker python3 worker.py\n")
    commit(work, "broken procfile")
    result = platform.push(work, key, app)
    assert_rejected(platform, token, app, result, "Procfile line 2: expected 'type: command'")


def test_failing_dependency_install_rejects_the_push(platform, owner):
    _, token, key = owner
    app = platform.create_app(token)
    work = platform.checkout("python-web")
    (work / "requirements.txt").write_text("flask==0.0.1\n")
    commit(work, "impossible requirement")
    result = platform.push(work, key, app)
    assert_rejected(platform, token, app, result, "-----> Python app detected", "pip install failed")


def test_nothing_to_detect(platform, owner):
    _, token, key = owner
    app = platform.create_app(token)
    work = platform.checkout(None)
    (work / "README.md").write_text("just words\n")
    commit(work, "readme")
    result = platform.push(work, key, app)
    assert_rejected(platform, token, app, result, "No buildpack detected this app")


def procfile_app(platform, body: str = "sleep infinity") -> object:
    work = platform.checkout(None)
    (work / "Procfile").write_text(f"worker: {body}\n")
    commit(work, "procfile only")
    return work


def test_non_collaborator_is_refused_until_added(platform, owner):
    owner_name, token, _ = owner
    app = platform.create_app(token)
    bob, _, bob_key = platform.new_user()
    work = procfile_app(platform)
    result = platform.push(work, bob_key, app)
    assert result.returncode != 0
    assert f"app '{app}' not found" in result.output  # like a missing app: names cannot be probed
    assert "deis perms:create" in result.output
    assert platform.repo_ref(app) is None
    assert versions(platform, token, app) == [1]

    r = platform.controller.api(token).post(f"{platform.controller.url}/v1/apps/{app}/perms",
                                            json={"username": bob}, timeout=10)
    assert r.status_code in (200, 201), r.text
    result = platform.push(work, bob_key, app)
    assert result.returncode == 0, result.output
    assert "-----> Procfile app detected" in result.remote
    assert versions(platform, token, app) == [1, 2]


def test_unknown_key_is_named(platform, owner):
    _, token, _ = owner
    app = platform.create_app(token)
    stranger = platform.make_key("stranger")
    result = platform.push(procfile_app(platform), stranger, app)
    assert result.returncode != 0
    assert "your SSH key is not registered with Deis" in result.output
    assert fingerprint_of(stranger) in result.output
    assert "deis keys:add" in result.output
    assert versions(platform, token, app) == [1]


def test_command_other_than_push_is_refused(platform, owner):
    _, _, key = owner
    proc = subprocess.run(["ssh", "-i", str(key), "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
                           "-o", f"UserKnownHostsFile={platform.workdir / 'known_hosts'}", "-o", "LogLevel=ERROR",
                           "-p", str(platform.builder_port), "git@127.0.0.1", "cat /etc/passwd"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
    assert proc.returncode == 1
    assert "command not allowed: 'cat /etc/passwd'" in proc.stdout
    assert "root:" not in proc.stdout


def test_non_master_ref_is_refused(platform, owner):
    _, token, key = owner
    app = platform.create_app(token)
    work = procfile_app(platform)
    result = platform.push(work, key, app, "master:feature")
    assert result.returncode != 0
    assert "[remote rejected] master -> feature (only master and main are deployed; " \
           "push this branch with 'git push deis feature:master')" in result.output
    assert platform.repo_ref(app, "refs/heads/feature") is None
    assert versions(platform, token, app) == [1]
    # main is deployed like master
    result = platform.push(work, key, app, "master:main")
    assert result.returncode == 0, result.output
    assert platform.repo_ref(app, "refs/heads/main") is not None
    assert versions(platform, token, app) == [1, 2]


def test_two_concurrent_pushes_never_race(platform, owner):
    _, token, key = owner
    app = platform.create_app(token)
    works = [procfile_app(platform, f"sleep {n}") for n in (1001, 1002)]
    results = [None, None]

    def push(i):
        results[i] = platform.push(works[i], key, app)

    threads = [threading.Thread(target=push, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [i for i in range(2) if results[i].returncode == 0]
    assert len(winners) == 1, [r.output for r in results]
    loser = results[1 - winners[0]].output
    assert "stale info" in loser or "fetch first" in loser, loser
    winner_sha = subprocess.run(["git", "-C", str(works[winners[0]]), "rev-parse", "HEAD"],
                                stdout=subprocess.PIPE, text=True).stdout.strip()
    assert platform.repo_ref(app) == winner_sha
    assert versions(platform, token, app) == [1, 2]


def test_owner_clones_the_pushed_code_and_nobody_else_does(platform, owner):
    _, token, key = owner
    app = platform.create_app(token)
    empty = platform.clone(key, app, platform.workdir / f"{app}-empty")
    assert empty.returncode != 0 and f"nothing has been pushed to app '{app}' yet" in empty.output
    work = procfile_app(platform)
    assert platform.push(work, key, app).returncode == 0
    clone = platform.workdir / f"{app}-clone"
    result = platform.clone(key, app, clone)
    assert result.returncode == 0, result.output + platform.logs()
    assert git(clone, "rev-parse", "HEAD") == git(work, "rev-parse", "HEAD")
    assert (clone / "Procfile").read_text() == "worker: sleep infinity\n"

    bob, bob_token, bob_key = platform.new_user()  # a collaborator pushes, but does not clone
    r = platform.controller.api(token).post(f"{platform.controller.url}/v1/apps/{app}/perms",
                                            json={"username": bob}, timeout=10)
    assert r.status_code in (200, 201), r.text
    refused = platform.clone(bob_key, app, platform.workdir / f"{app}-bob")
    assert refused.returncode != 0 and f"only the owner of app '{app}' may fetch it" in refused.output

    # Destroyed, then re-created by bob: the old code is not his to clone, and his first push
    # (unrelated history) needs no --force.
    r = platform.controller.api(token).delete(f"{platform.controller.url}/v1/apps/{app}", timeout=30)
    assert r.status_code in (200, 204), r.text
    platform.create_app(bob_token, app)
    again = platform.clone(bob_key, app, platform.workdir / f"{app}-bob-2")
    assert again.returncode != 0 and f"nothing has been pushed to app '{app}' yet" in again.output
    result = platform.push(procfile_app(platform, "sleep 600"), bob_key, app)
    assert result.returncode == 0, result.output


def test_push_after_destroy_is_refused(platform, owner):
    _, token, key = owner
    app = platform.create_app(token)
    work = procfile_app(platform)
    assert platform.push(work, key, app).returncode == 0
    r = platform.controller.api(token).delete(f"{platform.controller.url}/v1/apps/{app}", timeout=30)
    assert r.status_code in (200, 204), r.text
    (work / "Procfile").write_text("worker: sleep 5\n")
    commit(work, "after destroy")
    result = platform.push(work, key, app)
    assert result.returncode != 0
    assert f"app '{app}' not found" in result.output
    r = platform.controller.api(token).get(f"{platform.controller.url}/v1/apps/{app}", timeout=10)
    assert r.status_code == 404


def _custom_buildpack(platform) -> Path:
    """A working copy of a buildpack that copies the GREETING config var into the app."""
    buildpack = platform.checkout(None)
    (buildpack / "bin").mkdir()
    (buildpack / "bin" / "detect").write_text("#!/bin/sh\necho Custom\n")
    (buildpack / "bin" / "compile").write_text(
        '#!/bin/sh\necho "-----> custom compile"\ncat "$3/GREETING" > "$1/greeting.txt"\n')
    (buildpack / "bin" / "release").write_text(
        "#!/bin/sh\nprintf -- '---\\ndefault_process_types:\\n  web: cat greeting.txt\\n'\n")
    for script in (buildpack / "bin").iterdir():
        script.chmod(0o755)
    commit(buildpack, "buildpack")
    return buildpack


def _write_config_directly(home: Path, app: str, values: dict) -> None:
    """Set the values of the app's current config in the controller's SQLite database, past the API."""
    with sqlite3.connect(home / "controller.db") as db:
        db.execute("UPDATE configs SET \"values\" = ? WHERE app_id = (SELECT id FROM apps WHERE name = ?)",
                   (json.dumps(values), app))


def test_custom_buildpack_is_fetched_over_http_inside_the_build_container(platform, owner, docker_client):
    _, token, key = owner
    buildpack = _custom_buildpack(platform)
    app = platform.create_app(token)
    with dumb_http_git(buildpack, docker_client, load(platform.env), app) as (url, requests_seen, gateway):
        r = platform.controller.api(token).post(
            f"{platform.controller.url}/v1/apps/{app}/config",
            json={"values": {"BUILDPACK_URL": f"{url}#master", "GREETING": "from config"}}, timeout=10)
        assert r.status_code in (200, 201), r.text
        result = platform.push(platform.checkout("static-site"), key, app)
    assert result.returncode == 0, result.output + platform.logs()
    assert f"-----> Fetching buildpack {url}#master" in result.remote
    assert "-----> Custom app detected" in result.remote
    assert "-----> custom compile" in result.remote
    assert "Default types for this app -> web" in result.remote
    assert docker_run(f"{platform.registry}/{app}:{platform.repo_ref(app)}", "cat greeting.txt") == "from config"
    # Fetched by the build container on the app's network, not by the host (which would come from the gateway).
    clients = {client for client, _ in requests_seen}
    assert clients and gateway not in clients and "127.0.0.1" not in clients, requests_seen


def test_buildpack_url_set_before_the_rule_is_refused_at_build_time(platform, owner, tmp_path):
    """A config written before BUILDPACK_URL had a rule (straight into the database here) does not
    make the builder read the platform's disk: the build fails with the reason, nothing is cloned."""
    _, token, key = owner
    buildpack = _custom_buildpack(platform)
    app = platform.create_app(token)
    r = platform.controller.api(token).post(f"{platform.controller.url}/v1/apps/{app}/config",
                                            json={"values": {"BUILDPACK_URL": f"file://{buildpack}"}}, timeout=10)
    assert r.status_code == 400 and "is a file:// URL" in r.json()["detail"], r.text
    _write_config_directly(platform.controller.home, app, {"BUILDPACK_URL": f"file://{buildpack}"})
    result = platform.push(platform.checkout("static-site"), key, app)
    assert result.returncode != 0
    assert "is a file:// URL: the platform does not fetch from its own disk" in result.remote
    assert "Custom app detected" not in result.remote
