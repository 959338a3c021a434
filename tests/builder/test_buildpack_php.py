"""The PHP buildpack, run as the builder runs it (the stack's build image, the build container's hardening),
and its heroku-php-apache2/heroku-php-nginx commands on the run image as apps run (uid 1000, no capabilities,
no new privileges; here also a read-only root with /tmp writable): what they serve and what they never serve,
how they stop, and the bad input that must fail with a clear message."""
from __future__ import annotations

import json
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from builder.buildpacks import SHIPPED_DIR
from builder.slug import BUILD_HARDENING
from builder.stack import RUN_UID

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NEVER_SERVED = {".env": "SECRET=1\n", ".git/config": "[core]\n", "composer.json": "{}\n"}


@dataclass
class Compiled:
    status: int
    output: str
    app: Path

    @property
    def errors(self) -> str:
        return "\n".join(line for line in self.output.splitlines() if line.startswith(" !     "))


@pytest.fixture(scope="module")
def php_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("php-cache")


def compile_app(docker_client, stack, app: Path, cache: Path) -> Compiled:
    """detect, compile, release of builder/buildpacks/php on ``app`` (changed in place)."""
    cache.mkdir(exist_ok=True)
    (env := app.parent / "env").mkdir(exist_ok=True)
    bin_dir = "/tmp/buildpacks/php/bin"
    script = (f"{bin_dir}/detect /app && {bin_dir}/compile /app /tmp/cache /tmp/env"
              f" && echo '=== release' && {bin_dir}/release /app")
    container = docker_client.containers.run(stack[1], ["bash", "-c", script], detach=True, volumes={
        str(app): {"bind": "/app", "mode": "rw"}, str(cache): {"bind": "/tmp/cache", "mode": "rw"},
        str(env): {"bind": "/tmp/env", "mode": "ro"}, str(SHIPPED_DIR): {"bind": "/tmp/buildpacks", "mode": "ro"}},
        **BUILD_HARDENING)
    try:
        status = container.wait(timeout=300)["StatusCode"]
        return Compiled(status, container.logs().decode("utf-8", "replace"), app)
    finally:
        container.remove(force=True)


def app_from(tmp_path: Path, example: str | None = None, files: dict[str, str] | None = None) -> Path:
    app = tmp_path / "app"
    if example:
        shutil.copytree(EXAMPLES / example, app)
    app.mkdir(exist_ok=True)
    for name, text in (files or {}).items():
        (app / name).parent.mkdir(parents=True, exist_ok=True)
        (app / name).write_text(text)
    return app


class Running:
    """A compiled app's process on the run image, run as the platform runs it, reachable on a loopback port."""

    def __init__(self, docker_client, stack, app: Path, command: str):
        runner = SHIPPED_DIR.parent / "runner" / "init"
        self.container = docker_client.containers.run(
            stack[0], [command], entrypoint=["/runner/init"], detach=True, user=f"{RUN_UID}:{RUN_UID}",
            environment={"PORT": "5000", "DEIS_APP": "php-test"}, ports={"5000/tcp": ("127.0.0.1", None)},
            volumes={str(app): {"bind": "/app", "mode": "ro"}, str(runner): {"bind": "/runner/init", "mode": "ro"}},
            cap_drop=["ALL"], security_opt=["no-new-privileges"], read_only=True, tmpfs={"/tmp": ""}, init=True)
        self.container.reload()
        self.url = f"http://127.0.0.1:{self.container.ports['5000/tcp'][0]['HostPort']}"
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(self.url, timeout=2)
                return
            except requests.ConnectionError:
                self.container.reload()
                if self.container.status != "running" or time.monotonic() > deadline:
                    raise AssertionError(f"{command} does not answer:\n{self.logs()}") from None
                time.sleep(0.1)

    def get(self, path: str) -> requests.Response:
        return requests.get(self.url + path, timeout=10)

    def logs(self) -> str:
        return self.container.logs().decode("utf-8", "replace")

    def exit_code(self, timeout: float = 20) -> int:
        return self.container.wait(timeout=timeout)["StatusCode"]

    def remove(self):
        self.container.remove(force=True)


@pytest.fixture
def run(docker_client, stack):
    started = []

    def start(app: Path, command: str) -> Running:
        started.append(Running(docker_client, stack, app, command))
        return started[-1]

    yield start
    for running in started:
        running.remove()


@pytest.mark.parametrize("example, command, docroot", [("php-apache", "heroku-php-apache2 web/", "web"),
                                                       ("php-nginx", "heroku-php-nginx public/", "public")])
def test_example_builds_offline_and_serves_php_but_never_dotfiles_or_composer_files(
        docker_client, stack, php_cache, tmp_path, run, example, command, docroot):
    app = app_from(tmp_path, example, {f"{docroot}/{name}": text for name, text in NEVER_SERVED.items()})
    result = compile_app(docker_client, stack, app, php_cache)
    assert result.status == 0, result.output
    assert "Installing dependencies from lock file" in result.output
    assert result.output.split("=== release\n")[1] == "---\ndefault_process_types:\n  web: heroku-php-apache2\n"
    assert (app / "vendor" / "autoload.php").is_file()

    web = run(app, command)
    for path in ("/", "/index.php", "/some/route?x=1"):  # the front controller answers routes too
        r = web.get(path)
        assert r.status_code == 200 and r.text.startswith("Hello from PHP php-test\n"), (path, r.text, web.logs())
    for path in ("/.env", "/.git/config", "/composer.json", "/%2Eenv", "/sub/../.env"):
        assert web.get(path).status_code in (403, 404), path
    assert "GET /index.php" in web.logs()  # the access log reaches the container's output


SERVER_CONFIGS = {  # what heroku-php-* -C FILE adds to the server
    "heroku-php-apache2": "Header set X-From-App apache2\n",
    "heroku-php-nginx": "add_header X-From-App nginx;\nlocation / {\n    try_files $uri /web/index.php$is_args$args;\n}\n",
}


@pytest.mark.parametrize("server", ["heroku-php-apache2", "heroku-php-nginx"])
def test_the_app_root_as_document_root_hides_the_slug_around_the_app(docker_client, stack, php_cache, tmp_path,
                                                                     run, server):
    app = app_from(tmp_path, "php-apache", {".env": "SECRET=1\n", "server.conf": SERVER_CONFIGS[server],
                                            "fpm.conf": "php_value[memory_limit] = 64M\n",
                                            "web/memory.php": "<?php echo ini_get('memory_limit');"})
    assert compile_app(docker_client, stack, app, php_cache).status == 0
    web = run(app, f"{server} -C server.conf -F fpm.conf")
    r = web.get("/web/index.php")
    assert r.text.startswith("Hello from PHP php-test") and r.headers["X-From-App"] == server.split("-")[-1]
    assert web.get("/web/memory.php").text == "64M"
    for path in ("/.env", "/composer.json", "/composer.lock", "/Procfile", "/vendor/autoload.php", "/vendor/",
                 "/.heroku/php/conf/php-fpm.conf", "/.profile.d/php.sh"):
        assert web.get(path).status_code in (403, 404), path


def test_a_stop_lets_requests_in_flight_finish_and_a_dead_php_fpm_ends_the_process(docker_client, stack, php_cache,
                                                                                    tmp_path, run):
    app = app_from(tmp_path, "php-nginx", {"public/slow.php": "<?php usleep(1500000); echo 'slow done';"})
    assert compile_app(docker_client, stack, app, php_cache).status == 0
    web = run(app, "heroku-php-nginx public/")
    answers = []
    slow = threading.Thread(target=lambda: answers.append(web.get("/slow.php")))
    slow.start()
    time.sleep(0.5)
    web.container.stop(timeout=10)
    slow.join()
    assert answers[0].status_code == 200 and answers[0].text == "slow done"
    assert web.exit_code() == 0

    web = run(app, "heroku-php-apache2 public/")
    web.container.exec_run(["bash", "-c", "kill -KILL $(cat /tmp/heroku-php.*/php-fpm.pid)"], user=str(RUN_UID))
    assert web.exit_code() != 0  # so the platform restarts it
    assert "php-fpm exited" in web.logs()


def test_an_extension_the_run_image_lacks_stops_the_process_with_its_name(docker_client, stack, php_cache, tmp_path):
    app = app_from(tmp_path, "php-apache")
    assert compile_app(docker_client, stack, app, php_cache).status == 0
    assert (app / ".heroku" / "php" / "required-extensions").read_text() == "json\n"
    # As if the build image's PHP had an extension the run image's has not.
    (app / ".heroku" / "php" / "required-extensions").write_text("json\nnosuchext\n")
    container = docker_client.containers.run(
        stack[0], ["heroku-php-nginx"], entrypoint=["/runner/init"], detach=True, user=f"{RUN_UID}:{RUN_UID}",
        environment={"PORT": "5000"}, cap_drop=["ALL"], security_opt=["no-new-privileges"],
        volumes={str(app): {"bind": "/app", "mode": "ro"},
                 str(SHIPPED_DIR.parent / "runner" / "init"): {"bind": "/runner/init", "mode": "ro"}})
    try:
        assert container.wait(timeout=20)["StatusCode"] != 0
        assert "heroku-php-nginx: the app requires ext-nosuchext, which PHP 8." in container.logs().decode()
    finally:
        container.remove(force=True)


def test_path_repositories_install_offline(docker_client, stack, php_cache, tmp_path):
    app = app_from(tmp_path, files={
        "composer.json": json.dumps({"require": {"php": ">=8.1", "acme/greeter": "^1.0"},
                                     "repositories": [{"type": "path", "url": "packages/greeter"}]}),
        "packages/greeter/composer.json": json.dumps({"name": "acme/greeter", "version": "1.0.0",
                                                      "autoload": {"psr-4": {"Acme\\": "src/"}}}),
        "packages/greeter/src/Greeter.php": "<?php namespace Acme; class Greeter {}\n",
        "index.php": "<?php require 'vendor/autoload.php'; echo Acme\\Greeter::class;\n",
    })
    result = compile_app(docker_client, stack, app, php_cache)
    assert result.status == 0, result.output
    assert "Installing acme/greeter (1.0.0): Mirroring from packages/greeter" in result.output
    assert not (app / "vendor" / "acme" / "greeter").is_symlink()  # the slug holds the package itself


@pytest.mark.parametrize("files, errors", [
    ({"composer.json": '{\n  "require": {\n    "php": ">=8.1"\n    "ext-json": "*"\n  }\n}\n'},
     ["composer.json is not valid JSON: Expecting ',' delimiter: line 4 column 5"]),
    ({"composer.json": "[1]"}, ["composer.json must hold a JSON object"]),
    ({"composer.json": '{"require": ["php"]}'}, ['composer.json: "require" must be an object']),
    ({"composer.json": '{"require": {"php": "^7.4"}}'}, ["composer.json requires php ^7.4; this stack has PHP 8."]),
    ({"composer.json": '{"require": {"ext-nosuchext": "*"}}'},
     ["ext-nosuchext (required by composer.json): PHP 8.", "does not have this extension"]),
    ({"composer.json": '{"require": {"php": ">=8.1", "ext-json": "*"}}',
      "composer.lock": (EXAMPLES / "php-apache" / "composer.lock").read_text().replace('"content-hash": "', '"content-hash": "0')},
     ["composer.lock does not match composer.json"]),
    # Packagist cannot be reached from here: the build names the package and where composer tried.
    ({"composer.json": '{"require": {"php": ">=8.1", "monolog/monolog": "^3.0"}}'},
     ["Could not download monolog/monolog: composer could not reach ", "://", "composer install failed"]),
], ids=["malformed", "not-an-object", "require-list", "php-version", "extension", "stale-lock", "unreachable"])
def test_bad_input_fails_with_a_clear_message(docker_client, stack, php_cache, tmp_path, files, errors):
    result = compile_app(docker_client, stack, app_from(tmp_path, files=files), php_cache)
    assert result.status != 0, result.output
    for fragment in errors:
        assert fragment in result.errors, result.output
