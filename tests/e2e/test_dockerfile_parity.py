"""Dockerfile apps behave as on Dokku, end to end on the real platform: the image's exposed port is the
web port, its own command runs as ``web``, Procfile commands reach an ENTRYPOINT as words, config vars
go to the build only for declared ARGs and leave no trace in the image's history, and build output is
plain text."""
from __future__ import annotations

import hashlib
import json
import subprocess
import uuid

import docker
import pytest

from router import Router
from tests.e2e.conftest import commit, git, wait_until

pytestmark = pytest.mark.slow

@pytest.fixture(scope="module")
def live_platform(apps_platform):
    return apps_platform  # one platform for the app-pushing modules (tests/e2e/conftest.py)


def ps_lines(platform, app: str, work) -> list[list[str]]:
    ps = platform.deis("ps", "-a", app, cwd=work).ok().output
    return [line.split()[:3] for line in ps.splitlines() if line.startswith(app)]


def push_ok(platform, work):
    push = platform.push(work)
    assert push.returncode == 0, push.output + platform.logs()
    assert "\x1b" not in push.output, push.output
    return push


def app_tags(platform, app: str) -> list[str]:
    """The tags of this app's images on the engine (built as ``<registry>/<app>:<sha>``)."""
    repository = f"127.0.0.1:{platform.env['DEIS_REGISTRY_PORT']}/{app}"
    return [tag for image in docker.from_env().images.list(name=repository) for tag in image.tags
            if tag.rsplit(":", 1)[0] == repository]


def test_exposed_port_is_the_web_port_and_the_image_command_runs_as_web(live_platform):
    work = live_platform.checkout("dockerfile-expose")
    app = live_platform.create_app(work)
    push = push_ok(live_platform, work)
    assert "-----> Web port 8080 (exposed by the image)" in push.output
    assert "-----> web runs the image's command: python3 /srv/server.py" in push.output
    assert f"{app} v2 deployed" in push.output

    r = live_platform.get(app)
    assert (r.status_code, r.text) == (200, "listening on 8080, PORT=8080\n")
    assert ps_lines(live_platform, app, work) == [[f"{app}_v2.web.1", "up", "v2"]]
    network = docker.from_env().api.inspect_container(f"{app}_v2.web.1")["NetworkSettings"]
    bridge = next(n["IPAddress"] for n in network["Networks"].values() if n["IPAddress"])
    assert Router(live_platform.home / "router", 0).route(app).upstreams == (f"{bridge}:8080",)

    # a config change rolls the same port; deis run gets the port too (no ENTRYPOINT: sh -c expands $PORT)
    live_platform.deis("config:set", "GREETING=hi", cwd=work).ok()
    assert live_platform.get(app).text == "listening on 8080, PORT=8080\n"
    run = live_platform.deis("run", "--", "sh", "-c", "echo port=$PORT", cwd=work)
    assert run.returncode == 0 and run.output.strip().endswith("port=8080"), run.output

    # a Procfile with only a worker: the image's command still runs as web
    (work / "Procfile").write_text("worker: sleep 1000\n")
    commit(work, "a worker")
    push_ok(live_platform, work)
    live_platform.deis("scale", "worker=1", cwd=work).ok()
    expected = [[f"{app}_v4.web.1", "up", "v4"], [f"{app}_v4.worker.1", "up", "v4"]]
    assert wait_until(lambda: sorted(ps_lines(live_platform, app, work)) == expected, 15), \
        ps_lines(live_platform, app, work)  # once v3's web container has drained
    assert live_platform.get(app).status_code == 200


def test_a_server_not_on_the_exposed_port_fails_its_health_check_naming_the_port(live_platform):
    work = live_platform.checkout("dockerfile-expose")
    (work / "Dockerfile").write_text((work / "Dockerfile").read_text().replace("EXPOSE 8080", "EXPOSE 8081"))
    commit(work, "wrong port")
    live_platform.create_app(work)
    push = live_platform.push(work)
    assert push.returncode != 0, push.output
    assert "port 8081 did not accept connections" in push.output, push.output


def test_procfile_commands_reach_the_entrypoint_as_words(live_platform):
    work = live_platform.checkout("dockerfile-entrypoint")
    app = live_platform.create_app(work)
    push_ok(live_platform, work)
    r = live_platform.get(app)
    assert r.status_code == 200, r.text
    assert r.json() == {"greeting": "hi", "argv": ["serve", "--port", "8080", "--greeting", "hi"]}
    assert ps_lines(live_platform, app, work) == [[f"{app}_v2.web.1", "up", "v2"]]
    # deis run: the words go to the entrypoint too (argparse refuses an unknown action: exit 2)
    run = live_platform.deis("run", "--", "serve", "--help", cwd=work)
    assert run.returncode == 0 and "--greeting" in run.output, run.output
    assert live_platform.deis("run", "--", "nonsense", cwd=work).returncode == 2

    # the same image pulled into another app without a Procfile: its CMD runs as web on its exposed port
    image = app_tags(live_platform, app)[0]
    other = f"e2e-{uuid.uuid4().hex[:8]}"
    live_platform.deis("create", other, "--no-remote", cwd=work).ok()
    pull = live_platform.deis("pull", image, "-a", other, cwd=work)
    assert pull.returncode == 0, pull.output + live_platform.logs()
    r = live_platform.get(other)
    assert r.status_code == 200, r.text
    assert r.json()["greeting"] == "hello from CMD"
    assert ps_lines(live_platform, other, work) == [[f"{other}_v2.web.1", "up", "v2"]]


def test_config_reaches_only_declared_args_and_never_the_image_history(live_platform, tmp_path):
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    work = live_platform.workdir / "src" / uuid.uuid4().hex[:8]
    work.mkdir(parents=True)
    (work / "Dockerfile").write_text(
        "FROM deis/stack:bookworm\n"
        "arg SECRET_KEY\n"
        "RUN test -n \"$SECRET_KEY\" && printf '%s' \"$SECRET_KEY\" | sha256sum | cut -d' ' -f1 > /srv-digest\n"
        "RUN printf '\\033[1;32mcoloured\\033[0m \\033[2Kline\\n'\n"
        "COPY server.py /srv/server.py\n"
        "CMD [\"python3\", \"/srv/server.py\"]\n")
    (work / "server.py").write_text(
        "import os\nfrom http.server import BaseHTTPRequestHandler, HTTPServer\n"
        "class Digest(BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        body = open('/srv-digest', 'rb').read().strip()\n"
        "        self.send_response(200)\n"
        "        self.send_header('Content-Length', str(len(body)))\n"
        "        self.end_headers()\n"
        "        self.wfile.write(body)\n"
        "HTTPServer(('0.0.0.0', int(os.environ['PORT'])), Digest).serve_forever()\n")
    git(work, "init", "-q", "-b", "master")
    commit(work, "initial")
    app = live_platform.create_app(work)
    live_platform.deis("config:set", f"SECRET_KEY={secret}", "UNDECLARED=not-offered", cwd=work).ok()
    push = push_ok(live_platform, work)
    assert "coloured line" in push.output, push.output
    assert "-----> Build args from config: SECRET_KEY" in push.output
    assert "UNDECLARED" not in push.output and "not consumed" not in push.output, push.output
    assert secret not in push.output

    # the build had the value: the served digest is the secret's
    r = wait_until(lambda: live_platform.get(app), 10)
    assert r.text == hashlib.sha256(secret.encode()).hexdigest(), r.text

    tags = app_tags(live_platform, app)
    assert tags
    for image in tags:
        history = subprocess.run(["docker", "history", "--no-trunc", image], check=True,
                                 stdout=subprocess.PIPE, text=True).stdout
        assert "SECRET_KEY" in history and secret not in history, history
        inspect = subprocess.run(["docker", "inspect", image], check=True, stdout=subprocess.PIPE,
                                 text=True).stdout
        assert secret not in inspect
        assert secret not in json.dumps(docker.from_env().api.history(image))
