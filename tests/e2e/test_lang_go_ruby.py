"""Go and Ruby apps, end to end: git push over OpenSSH to the real builder, the stack's build image
compiles them (Go modules, a legacy .godir GOPATH app, a Rack app on the stack's gems), they run on the
run image as the run user and answer through the router. A push whose go.mod is broken is rejected
with go's message and the release before it keeps serving."""
from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import commit

pytestmark = pytest.mark.slow

@pytest.fixture(scope="module")
def live_platform(apps_platform):
    return apps_platform  # one platform for the app-pushing modules (tests/e2e/conftest.py)


def timed_push(platform, work):
    started = time.monotonic()
    push = platform.push(work)
    return push, time.monotonic() - started


def test_go_module_app_deploys_rebuilds_warm_and_a_bad_go_mod_is_rejected(live_platform):
    work = live_platform.checkout("go-web")
    app = live_platform.create_app(work)
    push, cold = timed_push(live_platform, work)
    assert push.returncode == 0, push.output + live_platform.logs()
    assert "-----> Go app detected" in push.output and "bin/go-web" in push.output
    assert f"{app} v2 deployed" in push.output
    assert live_platform.get(app).text == f"Hello from Go {app}\n"

    # A change to the code: the build cache of the first build makes this one fast.
    main = work / "main.go"
    main.write_text(main.read_text().replace("// A web process", "// The web process"))
    commit(work, "comment")
    push, warm = timed_push(live_platform, work)
    assert push.returncode == 0 and f"{app} v3 deployed" in push.output, push.output
    print(f"go-web push: cold {cold:.1f} s, warm {warm:.1f} s")

    (work / "go.mod").write_text("module example.com/go-web\n\ngo 1.19\n\nrequire (\n\tbroken\n")
    commit(work, "break go.mod")
    push = live_platform.push(work)
    assert push.returncode != 0, push.output
    assert "remote:  !     go: errors parsing go.mod:" in push.output, push.output
    assert "/app/go.mod:7: syntax error" in push.output
    assert live_platform.get(app).text == f"Hello from Go {app}\n"
    releases = live_platform.deis("releases", cwd=work).ok().output
    assert "v3" in releases and "v4" not in releases, releases


def test_legacy_godir_app_deploys_with_its_default_web_process(live_platform):
    work = live_platform.checkout("go-godir")  # no Procfile: bin/release names the one binary
    app = live_platform.create_app(work)
    push, seconds = timed_push(live_platform, work)
    assert push.returncode == 0, push.output + live_platform.logs()
    assert "Building example.com/legacy/go-godir in a GOPATH" in push.output
    assert live_platform.get(app).text == f"Hello from Go {app} (GOPATH build)\n"
    print(f"go-godir push: {seconds:.1f} s")


def test_ruby_rack_app_deploys_on_the_stacks_gems(live_platform):
    work = live_platform.checkout("ruby-rack")  # no Procfile: rackup on all interfaces
    app = live_platform.create_app(work)
    push, cold = timed_push(live_platform, work)
    assert push.returncode == 0, push.output + live_platform.logs()
    assert "-----> Ruby app detected" in push.output and "Using rack 2.2" in push.output
    assert live_platform.get(app).text == f"Hello from Ruby {app}\n"
    run = live_platform.deis("run", "--", "bundle", "exec", "ruby", "-e", "puts ENV['RACK_ENV']", cwd=work)
    assert run.returncode == 0 and run.output.strip().endswith("production"), run.output

    commit(work, "again")
    push, warm = timed_push(live_platform, work)
    assert push.returncode == 0 and "Gemfile.lock unchanged: reusing the cached bundle" in push.output, push.output
    print(f"ruby-rack push: cold {cold:.1f} s, warm {warm:.1f} s")
