"""The Node.js buildpack, run as the builder runs it (the stack's build image with the build container's
hardening, a per-app cache dir, config vars in ENV_DIR), and its slug on the run image as apps run (uid 1000,
no capabilities, read-only root, /tmp writable): the bad input that must fail with a clear message, the
npm registry that cannot be reached, the cache that makes a second build download nothing."""
from __future__ import annotations

import json
import re
import shutil
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
BIN = "/tmp/buildpacks/node/bin"


@dataclass
class Compiled:
    status: int
    output: str
    seconds: float

    @property
    def errors(self) -> list[str]:
        return [line for line in self.output.splitlines() if line.startswith(" !     ")]

    @property
    def release(self) -> str:
        return self.output.split("=== release\n", 1)[1] if "=== release\n" in self.output else ""


@pytest.fixture(scope="session")
def stack_node(docker_client, stack) -> str:
    """The version of the build image's node, as the buildpack must name it."""
    return docker_client.containers.run(stack[1], ["node", "--version"], remove=True).decode().strip().lstrip("v")


def app_from(tmp_path: Path, example: str | None = None, files: dict[str, str] | None = None) -> Path:
    app = tmp_path / "app"
    if example:
        shutil.copytree(EXAMPLES / example, app)
    app.mkdir(exist_ok=True)
    for name, text in (files or {}).items():
        (app / name).write_text(text)
    return app


def compile_app(docker_client, stack, app: Path, cache: Path, config: dict[str, str] | None = None) -> Compiled:
    """detect, compile, release of builder/buildpacks/node on ``app`` (changed in place)."""
    cache.mkdir(exist_ok=True)
    env = app.parent / "env"
    env.mkdir(exist_ok=True)
    for key, value in (config or {}).items():
        (env / key).write_text(value)
    script = f"{BIN}/detect /app && {BIN}/compile /app /tmp/cache /tmp/env && echo '=== release' && {BIN}/release /app"
    started = time.monotonic()
    container = docker_client.containers.run(
        stack[1], ["bash", "-c", script], detach=True, environment={"HOME": "/app"}, volumes={
            str(app): {"bind": "/app", "mode": "rw"}, str(cache): {"bind": "/tmp/cache", "mode": "rw"},
            str(env): {"bind": "/tmp/env", "mode": "ro"}, str(SHIPPED_DIR): {"bind": "/tmp/buildpacks", "mode": "ro"}},
        **BUILD_HARDENING)
    try:
        status = container.wait(timeout=300)["StatusCode"]
        return Compiled(status, container.logs().decode("utf-8", "replace"), time.monotonic() - started)
    finally:
        container.remove(force=True)


def run_web(docker_client, stack, app: Path, command: str) -> str:
    """Run ``command`` of the compiled ``app`` on the run image as the platform runs it, hardened and with
    a read-only root (and slug); return its answer to GET / (its NODE_ENV is checked in passing)."""
    container = docker_client.containers.run(
        stack[0], [command], entrypoint=["/runner/init"], detach=True, user=f"{RUN_UID}:{RUN_UID}",
        environment={"PORT": "5000", "DEIS_APP": "node-test"}, ports={"5000/tcp": ("127.0.0.1", None)},
        volumes={str(app): {"bind": "/app", "mode": "ro"},
                 str(SHIPPED_DIR.parent / "runner" / "init"): {"bind": "/runner/init", "mode": "ro"}},
        cap_drop=["ALL"], security_opt=["no-new-privileges"], read_only=True, tmpfs={"/tmp": ""})
    try:
        container.reload()
        url = f"http://127.0.0.1:{container.ports['5000/tcp'][0]['HostPort']}/"
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = requests.get(url, timeout=2).text
                break
            except requests.ConnectionError:
                container.reload()
                assert container.status == "running" and time.monotonic() < deadline, container.logs()
                time.sleep(0.2)
        env = container.exec_run(["bash", "-c", ". /app/.profile.d/node.sh; echo $NODE_ENV"], user=str(RUN_UID))
        assert env.output.decode().strip() == "production", env.output
        return answer
    finally:
        container.remove(force=True)


def test_malformed_package_json_fails_naming_the_file_and_where(docker_client, stack, tmp_path):
    app = app_from(tmp_path, files={"package.json": '{\n  "name": "x",\n  "dependencies": {"a": "1"},\n}\n'})
    result = compile_app(docker_client, stack, app, tmp_path / "cache")
    assert result.status != 0, result.output
    assert len(result.errors) == 1, result.output
    assert result.errors[0].startswith(" !     package.json is not valid JSON: Unexpected token }"), result.output
    assert result.errors[0].endswith("(line 4, column 1)"), result.output
    assert not (app / "node_modules").exists()


@pytest.mark.parametrize("text, problem", [
    ('["not", "an", "object"]', "package.json must hold a JSON object, not an array"),
    ('{"scripts": "node web.js"}', 'package.json: "scripts" must be an object, not a string'),
    ('{"engines": {"node": "eighteen"}}', 'package.json: engines.node "eighteen" is not a valid semver range'),
])
def test_package_json_of_the_wrong_shape_fails_saying_what_is_wrong(docker_client, stack, tmp_path, text, problem):
    result = compile_app(docker_client, stack, app_from(tmp_path, files={"package.json": text}), tmp_path / "cache")
    assert result.status != 0 and result.errors == [f" !     {problem}"], result.output


def test_an_engines_node_range_the_stack_cannot_satisfy_fails_naming_both(docker_client, stack, stack_node,
                                                                          tmp_path):
    wanted = f">={int(stack_node.split('.')[0]) + 1}.0.0"
    app = app_from(tmp_path, "node-express")
    data = json.loads((app / "package.json").read_text())
    data["engines"] = {"node": wanted}
    (app / "package.json").write_text(json.dumps(data))
    result = compile_app(docker_client, stack, app, tmp_path / "cache")
    assert result.status != 0, result.output
    assert len(result.errors) == 1 and f'"{wanted}"' in result.errors[0] and stack_node in result.errors[0], \
        result.output
    assert "Installing dependencies" not in result.output  # nothing fetched for a build that cannot run


def test_two_kinds_of_lockfile_fail_naming_both(docker_client, stack, tmp_path):
    app = app_from(tmp_path, "node-express", {"yarn.lock": "# yarn lockfile v1\n"})
    result = compile_app(docker_client, stack, app, tmp_path / "cache")
    assert result.status != 0, result.output
    assert result.errors and "package-lock.json" in result.errors[0] and "yarn.lock" in result.errors[0], \
        result.output


def test_an_unreachable_registry_fails_naming_the_package_and_the_registry(docker_client, stack, tmp_path):
    app = app_from(tmp_path, "node-express")
    lock = json.loads((app / "package-lock.json").read_text())
    locked = {path.rsplit("node_modules/", 1)[1] for path in lock["packages"] if path}
    result = compile_app(docker_client, stack, app, tmp_path / "cache",
                         {"npm_config_registry": "http://127.0.0.1:9"})  # nothing listens on port 9
    assert result.status != 0, result.output
    assert "ECONNREFUSED" in result.output  # npm's own words reach the build output
    match = re.fullmatch(r" !     Could not download (\S+) from the registry http://127\.0\.0\.1:9/ "
                         r"\(npm's registry setting\): .*ECONNREFUSED.*", result.errors[-1])
    assert match and match.group(1) in locked, result.output
    assert result.seconds < 60, result.output  # npm's retries are bounded


def test_example_builds_runs_as_the_app_user_and_a_second_build_downloads_nothing(docker_client, stack, tmp_path):
    cache = tmp_path / "cache"
    app = app_from(tmp_path, "node-express")
    cold = compile_app(docker_client, stack, app, cache)
    assert cold.status == 0, cold.output
    assert "-----> Installing dependencies with npm (npm ci)" in cold.output
    assert cold.release == '---\ndefault_process_types: {web: "npm start"}\n'
    assert (app / "node_modules" / "express" / "package.json").is_file()
    assert not (app / ".npm").exists() and not (app / ".config").exists()  # npm's cache and logs stay out

    shutil.rmtree(app)
    app = app_from(tmp_path, "node-express")
    warm = compile_app(docker_client, stack, app, cache)
    assert warm.status == 0, warm.output
    assert "-----> package-lock.json unchanged: reusing cached node_modules" in warm.output
    assert "Installing dependencies" not in warm.output
    assert (app / "node_modules" / "express" / "package.json").is_file()
    print(f"node-express compile: cold {cold.seconds:.1f} s, warm {warm.seconds:.1f} s (docker run included)")

    for command in ("npm start", "node web.js"):
        assert run_web(docker_client, stack, app, command) == "Hello from Node.js node-test\n"


def test_dev_dependencies_serve_the_build_script_and_are_pruned(docker_client, stack, tmp_path):
    """No lockfile: npm install; the build script uses a dev dependency, which is gone from the slug."""
    package = {
        "name": "built", "version": "1.0.0", "private": True,
        "scripts": {"build": "node -e \"require('fs').writeFileSync('built.txt', String(require('is-number')(5)))\""},
        "devDependencies": {"is-number": "^7.0.0"},
    }
    app = app_from(tmp_path, files={"package.json": json.dumps(package), "server.js": "// npm start runs me\n"})
    result = compile_app(docker_client, stack, app, tmp_path / "cache")
    assert result.status == 0, result.output
    assert "-----> Installing dependencies with npm (npm install)" in result.output
    assert "-----> Running build (npm run build)" in result.output
    assert (app / "built.txt").read_text() == "true"
    assert "-----> Pruning dev dependencies" in result.output
    assert not (app / "node_modules" / "is-number").exists()
    assert result.release == '---\ndefault_process_types: {web: "npm start"}\n'  # npm's default: server.js


@pytest.mark.parametrize("manager, lockfile", [("yarn", "yarn.lock"), ("pnpm", "pnpm-lock.yaml")])
def test_yarn_and_pnpm_apps_install_build_prune_and_rebuild_from_the_cache(docker_client, stack, tmp_path,
                                                                          manager, lockfile):
    cache = tmp_path / "cache"
    app = app_from(tmp_path, f"node-{manager}")
    cold = compile_app(docker_client, stack, app, cache)
    assert cold.status == 0, cold.output
    assert f"-----> Installing dependencies with {manager} ({manager} install --frozen-lockfile)" in cold.output
    assert f"-----> Running build ({manager} run build)" in cold.output
    assert "-----> Pruning dev dependencies" in cold.output
    assert (app / "node_modules" / "ms").exists() and not (app / "node_modules" / "is-number").exists()
    assert cold.release == '---\ndefault_process_types: {web: "npm start"}\n'
    assert not [p.name for p in app.iterdir() if p.name.startswith(".") and p.name not in (".profile.d", ".gitignore")]

    shutil.rmtree(app)
    app = app_from(tmp_path, f"node-{manager}")
    warm = compile_app(docker_client, stack, app, cache)
    assert warm.status == 0, warm.output
    assert f"-----> {lockfile} unchanged: reusing cached node_modules" in warm.output
    assert "Installing" not in warm.output
    assert not (app / "node_modules" / "is-number").exists()
    answer = run_web(docker_client, stack, app, "npm start")
    assert answer.startswith(f"Hello from Node.js node-test ({manager}), built with a dev dependency: true, up "), \
        answer
    print(f"node-{manager} compile: cold {cold.seconds:.1f} s, warm {warm.seconds:.1f} s (docker run included)")
