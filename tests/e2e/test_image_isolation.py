"""Images belong to apps, as an attacker with an ordinary account would try it through the real CLI:
another tenant's image by image-ID prefix or by its tag in the platform registry is refused and the
run reads nothing of it; the stack image runs for anyone; an image from another registry is pulled
by the platform and runs by the digest it recorded; the registry refuses anonymous requests."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import docker
import pytest
import requests

from builder.registry import render_config, render_htpasswd
from deiscore.processes import free_port, port_answers, spawn, stop_pid, wait_for
from scheduler.containers import LABEL_APP, LABEL_PLATFORM
from scheduler.scheduler import platform_id

pytestmark = pytest.mark.slow

HTTP_SERVER = "python3 -m http.server $PORT --directory /srv"


@pytest.fixture(scope="module")
def foreign_registry(tmp_path_factory):
    """A second, open docker-registry on another loopback port: "someone else's" registry."""
    root = tmp_path_factory.mktemp("foreign-registry")
    port = free_port()
    (root / "storage").mkdir()
    config = root / "config.yml"
    config.write_text(render_config(root / "storage", port, None))
    proc = spawn([shutil.which("docker-registry"), "serve", str(config)], root / "registry.log")
    try:
        wait_for(lambda: port_answers(port), 20, "foreign registry", process=proc)
        yield f"127.0.0.1:{port}"
    finally:
        stop_pid(proc.pid)


@pytest.fixture(scope="module")
def private_registry(tmp_path_factory):
    """Another registry that wants a password (ACME's), on another loopback port: (address, account)."""
    root = tmp_path_factory.mktemp("private-registry")
    port, account = free_port(), {"username": "acme", "password": "acme-registry-pass"}
    (root / "storage").mkdir()
    (root / "htpasswd").write_text(render_htpasswd([account]))
    config = root / "config.yml"
    config.write_text(render_config(root / "storage", port, root / "htpasswd"))
    proc = spawn([shutil.which("docker-registry"), "serve", str(config)], root / "registry.log")
    try:
        wait_for(lambda: port_answers(port), 20, "private registry", process=proc)
        yield f"127.0.0.1:{port}", account
    finally:
        stop_pid(proc.pid)


@pytest.fixture(scope="module")
def bob(live_platform):
    """An ordinary user with his own CLI profile (the platform's first user, the admin, owns alice's app)."""
    env = {**live_platform.env, "DEIS_PROFILE_DIR": str(live_platform.workdir / "bob-profile")}

    def deis(*args: str, timeout: float = 300):
        proc = subprocess.run([sys.executable, "-c", "from client.cli import main; main()", *args], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        return proc.returncode, proc.stdout

    code, out = deis("register", live_platform.controller_url, "--username", "bob", "--password", "bob-pass-12",
                     "--email", "bob@example.com")
    assert code == 0 and "administrator" not in out, out
    return deis


def app_containers(platform, app: str):
    client = docker.from_env()
    return client.containers.list(filters={"label": [f"{LABEL_PLATFORM}={platform_id(platform.home)}",
                                                     f"{LABEL_APP}={app}"]})


def test_the_registry_refuses_anonymous_requests(live_platform):
    registry = f"http://127.0.0.1:{live_platform.env['DEIS_REGISTRY_PORT']}"
    assert requests.get(f"{registry}/v2/_catalog", timeout=5).status_code == 401
    assert requests.post(f"{registry}/v2/x/blobs/uploads/", timeout=5).status_code == 401


def test_another_tenants_image_is_refused_and_the_run_reads_nothing(live_platform, bob):
    work = live_platform.checkout("static-site")
    alice_app = live_platform.create_app(work)
    push = live_platform.push(work)
    assert push.returncode == 0, push.output + live_platform.logs()
    (alice_builds,) = json.loads(live_platform.deis("builds", "-a", alice_app, "--json").ok().output)
    registry = f"127.0.0.1:{live_platform.env['DEIS_REGISTRY_PORT']}"
    assert alice_builds["image"].startswith(f"{registry}/{alice_app}@sha256:")
    image = docker.from_env().images.get(alice_builds["image"])
    sha = alice_builds["sha"]

    code, out = bob("create", "bob-app", "--no-remote")
    assert code == 0, out
    procfile = ["--procfile", "web=python3 -m http.server $PORT"]
    image_id = image.id.split(":")[1]
    attacks = [(image_id[:2], "image ID"), (image_id[:12], "image ID"), (image.id, "image ID"),
               (f"{registry}/{alice_app}:{sha}", "not found"), (alice_builds["image"], "not found"),
               (f"localhost:{live_platform.env['DEIS_REGISTRY_PORT']}/{alice_app}:{sha}", "not found"),
               (f"{alice_app}:{sha}", "does not name its registry")]
    for reference, refusal in attacks:
        code, out = bob("builds:create", reference, "-a", "bob-app", *procfile)
        assert code != 0 and refusal in out, (reference, out)
    code, out = bob("builds", "-a", "bob-app", "--json")
    assert code == 0 and out.strip() == "[]", out

    # The stack image is everyone's: it runs, by the digest of bob's own copy, and has nothing of alice's.
    code, out = bob("pull", "deis/stack:bookworm", "-a", "bob-app", *procfile)
    assert code == 0, out + live_platform.logs()
    code, out = bob("builds", "-a", "bob-app", "--json")
    assert f'"image": "{registry}/bob-app@sha256:' in out, out
    code, out = bob("run", "-a", "bob-app", "--", "cat /app/index.html")
    assert code != 0 and "Hello from a static site" not in out, out
    assert "Hello from a static site" in live_platform.get(alice_app).text  # alice's app is untouched


def test_a_foreign_registry_image_is_pulled_and_runs_by_digest(live_platform, bob, foreign_registry, tmp_path):
    client = docker.from_env()
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "index.html").write_text("from the foreign registry\n")
    (context / "Dockerfile").write_text("FROM deis/stack:bookworm\nCOPY index.html /srv/index.html\n")
    reference = f"{foreign_registry}/acme/web:1"
    client.images.build(path=str(context), tag=reference, rm=True)
    try:
        for event in client.images.push(reference, stream=True, decode=True):
            assert "error" not in event, event
    finally:
        client.images.remove(reference)  # the platform must pull it, not find it on the engine

    code, out = bob("create", "bob-foreign", "--no-remote")
    assert code == 0, out
    code, out = bob("pull", reference, "-a", "bob-foreign", "--procfile", f"web={HTTP_SERVER}")
    assert code == 0, out + live_platform.logs()
    assert live_platform.get("bob-foreign").text == "from the foreign registry\n"
    registry = f"127.0.0.1:{live_platform.env['DEIS_REGISTRY_PORT']}"
    (container,) = app_containers(live_platform, "bob-foreign")
    assert container.attrs["Config"]["Image"].startswith(f"{registry}/bob-foreign@sha256:")

    # The tag moves in the foreign registry; the app keeps running what the platform recorded.
    (context / "index.html").write_text("moved tag\n")
    client.images.build(path=str(context), tag=reference, rm=True)
    try:
        for event in client.images.push(reference, stream=True, decode=True):
            assert "error" not in event, event
    finally:
        client.images.remove(reference)
    code, out = bob("ps:restart", "-a", "bob-foreign")
    assert code == 0, out
    assert live_platform.get("bob-foreign").text == "from the foreign registry\n"


def test_a_private_registry_image_is_pulled_with_the_apps_credentials(live_platform, bob, private_registry, tmp_path):
    client = docker.from_env()
    address, account = private_registry
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "index.html").write_text("from a private registry\n")
    (context / "Dockerfile").write_text("FROM deis/stack:bookworm\nCOPY index.html /srv/index.html\n")
    reference = f"{address}/acme/private:1"
    client.images.build(path=str(context), tag=reference, rm=True)
    try:
        for event in client.images.push(reference, stream=True, decode=True, auth_config=account):
            assert "error" not in event, event
    finally:
        client.images.remove(reference)

    code, out = bob("create", "bob-private", "--no-remote")
    assert code == 0, out
    pull = ("pull", reference, "-a", "bob-private", "--procfile", f"web={HTTP_SERVER}")
    code, out = bob(*pull)
    assert code != 0 and "could not pull" in out, out
    code, out = bob("registry:set", f"username={account['username']}", f"password={account['password']}",
                    "-a", "bob-private")
    assert code == 0, out
    code, out = bob("registry:list", "-a", "bob-private")
    assert "acme" in out and account["password"] not in out, out
    code, out = bob(*pull)
    assert code == 0, out + live_platform.logs()
    assert live_platform.get("bob-private").text == "from a private registry\n"
    code, out = bob("builds", "-a", "bob-private", "--json")
    assert f'"image": "127.0.0.1:{live_platform.env["DEIS_REGISTRY_PORT"]}/bob-private@sha256:' in out, out
