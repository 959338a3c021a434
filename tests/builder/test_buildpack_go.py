"""The Go buildpack, run as the builder runs it (the stack's build image, the build container's hardening):
module and GOPATH builds, and the bad input that must fail with a clear message."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from builder.buildpacks import SHIPPED_DIR
from builder.slug import BUILD_HARDENING

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@dataclass
class Compiled:
    status: int
    output: str
    app: Path

    def failed_with(self, *fragments: str) -> bool:
        errors = "\n".join(line for line in self.output.splitlines() if line.startswith(" !     "))
        return self.status != 0 and all(fragment in errors for fragment in fragments)


def run_in(docker_client, image: str, script: str, volumes: dict, user: str | None = None) -> tuple[int, str]:
    container = docker_client.containers.run(image, ["bash", "-c", script], volumes=volumes, detach=True,
                                             user=user, **BUILD_HARDENING)
    try:
        status = container.wait(timeout=300)["StatusCode"]
        return status, container.logs().decode("utf-8", "replace")
    finally:
        container.remove(force=True)


def compile_app(docker_client, image: str, language: str, app: Path, cache: Path,
                config: dict[str, str] | None = None) -> Compiled:
    """detect, compile, release of builder/buildpacks/<language> on ``app`` (changed in place)."""
    env = app.parent / f"{app.name}-env"
    env.mkdir(exist_ok=True)
    for key, value in (config or {}).items():
        (env / key).write_text(value)
    cache.mkdir(exist_ok=True)
    bin_dir = f"/tmp/buildpacks/{language}/bin"
    script = (f"{bin_dir}/detect /app && {bin_dir}/compile /app /tmp/cache /tmp/env"
              f" && echo '=== release' && {bin_dir}/release /app")
    status, output = run_in(docker_client, image, script, {
        str(app): {"bind": "/app", "mode": "rw"}, str(cache): {"bind": "/tmp/cache", "mode": "rw"},
        str(env): {"bind": "/tmp/env", "mode": "ro"}, str(SHIPPED_DIR): {"bind": "/tmp/buildpacks", "mode": "ro"}})
    return Compiled(status, output, app)


def app_from(tmp_path: Path, files: dict[str, str] | None = None, example: str | None = None) -> Path:
    app = tmp_path / "app"
    if example:
        shutil.copytree(EXAMPLES / example, app)
    app.mkdir(exist_ok=True)
    for name, text in (files or {}).items():
        (app / name).parent.mkdir(parents=True, exist_ok=True)
        (app / name).write_text(text)
    return app


@pytest.fixture(scope="module")
def go_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("go-cache")  # shared: the builds after the first are warm


MAIN = 'package main\n\nimport "example.com/dep"\n\nfunc main() { println(dep.Name) }\n'


def test_module_app_builds_its_binary_and_names_it_the_web_process(docker_client, build_image, go_cache, tmp_path):
    result = compile_app(docker_client, build_image, "go", app_from(tmp_path, example="go-web"), go_cache)
    assert result.status == 0, result.output
    assert "-----> Building module example.com/go-web" in result.output
    assert (result.app / "bin" / "go-web").is_file() and (result.app / "main.go").is_file()
    assert result.output.split("=== release\n")[1] == "---\ndefault_process_types:\n  web: go-web\n"
    assert 'export PATH="$HOME/bin:$PATH"' in (result.app / ".profile.d" / "go.sh").read_text()


def test_vendored_modules_build_offline_and_two_binaries_name_no_default(docker_client, build_image, go_cache,
                                                                         tmp_path):
    app = app_from(tmp_path, {
        "go.mod": "module example.com/multi\n\ngo 1.19\n\nrequire example.com/dep v1.0.0\n",
        "vendor/modules.txt": "# example.com/dep v1.0.0\n## explicit\nexample.com/dep\n",
        "vendor/example.com/dep/dep.go": 'package dep\n\nconst Name = "dep"\n',
        "cmd/server/main.go": MAIN, "cmd/worker/main.go": MAIN,
    })
    result = compile_app(docker_client, build_image, "go", app, go_cache)
    assert result.status == 0, result.output
    assert "Using the vendored modules (vendor/modules.txt)" in result.output
    assert sorted(p.name for p in (app / "bin").iterdir()) == ["server", "worker"]
    assert result.output.split("=== release\n")[1] == "---\ndefault_process_types: {}\n"

    # go.mod may name what to install, as on Heroku; then the one binary is the web process.
    shutil.rmtree(app / "bin")
    with open(app / "go.mod", "a") as go_mod:
        go_mod.write("// +heroku install ./cmd/server\n")
    result = compile_app(docker_client, build_image, "go", app, go_cache)
    assert result.status == 0 and "-----> Installing ./cmd/server" in result.output, result.output
    assert [p.name for p in (app / "bin").iterdir()] == ["server"]
    assert result.output.split("=== release\n")[1] == "---\ndefault_process_types:\n  web: server\n"


def test_gopath_app_builds_from_its_godir_import_path(docker_client, build_image, go_cache, tmp_path):
    result = compile_app(docker_client, build_image, "go", app_from(tmp_path, example="go-godir"), go_cache)
    assert result.status == 0, result.output
    assert "Building example.com/legacy/go-godir in a GOPATH" in result.output
    assert (result.app / "bin" / "go-godir").is_file()
    assert "web: go-godir" in result.output


def test_malformed_go_mod_fails_with_gos_message_and_line(docker_client, build_image, go_cache, tmp_path):
    app = app_from(tmp_path, {"go.mod": "module example.com/bad\n\ngo 1.19\n\nrequire (\n\tfoo\n",
                              "main.go": "package main\n\nfunc main() {}\n"})
    result = compile_app(docker_client, build_image, "go", app, go_cache)
    assert result.failed_with("errors parsing go.mod", "/app/go.mod:7: syntax error"), result.output
    assert not (app / "bin").exists()


def test_a_module_the_proxy_cannot_serve_fails_naming_module_and_proxy(docker_client, build_image, go_cache,
                                                                        tmp_path):
    _, proxy = run_in(docker_client, build_image, "go env GOPROXY", {})
    proxy = proxy.strip()
    first = proxy.split(",")[0].split("|")[0]
    app = app_from(tmp_path, {"go.mod": "module example.com/needsdep\n\ngo 1.19\n\nrequire example.com/dep v1.0.0\n",
                              "main.go": MAIN})
    result = compile_app(docker_client, build_image, "go", app, go_cache)
    assert result.failed_with(f"Could not download Go module example.com/dep@v1.0.0 from the module proxy {first}",
                              f"(GOPROXY={proxy})"), result.output
    # A proxy the app configures (a config var) is the one named.
    result = compile_app(docker_client, build_image, "go", app, go_cache, {"GOPROXY": "http://127.0.0.1:9"})
    assert result.failed_with("example.com/dep@v1.0.0 from the module proxy http://127.0.0.1:9"), result.output


def test_godir_without_an_import_path_is_refused(docker_client, build_image, go_cache, tmp_path):
    app = app_from(tmp_path, {".godir": "../../etc\n", "main.go": "package main\n\nfunc main() {}\n"})
    result = compile_app(docker_client, build_image, "go", app, go_cache)
    assert result.failed_with(".godir must name the app's import path", "'../../etc'"), result.output
