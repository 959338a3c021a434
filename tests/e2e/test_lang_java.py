"""A Java app, end to end: git push over OpenSSH to the real builder, the stack's build image builds it
with Maven offline (plugins from the stack's Maven repository), the jar runs on the run image's JRE as the
run user with the buildpack's default web process (no Procfile) and answers through the router. A push
whose pom.xml is malformed is rejected with Maven's message and the release before it keeps serving."""
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


def test_maven_app_deploys_with_its_default_web_process_and_a_bad_pom_is_rejected(live_platform):
    work = live_platform.checkout("java-maven")
    assert not (work / "Procfile").exists()
    app = live_platform.create_app(work)
    push, cold = timed_push(live_platform, work)
    assert push.returncode == 0, push.output + live_platform.logs()
    assert "-----> Java app detected" in push.output
    assert "-----> Runnable jar: target/app.jar" in push.output
    assert f"{app} v2 deployed" in push.output
    assert live_platform.get(app).text == f"Hello from Java {app}\n"

    # A change to the code: Maven's plugins come from the cached local repository this time.
    main = work / "src" / "main" / "java" / "com" / "example" / "Main.java"
    main.write_text(main.read_text().replace("Hello from Java", "Hello again from Java"))
    commit(work, "greeting")
    push, warm = timed_push(live_platform, work)
    assert push.returncode == 0 and f"{app} v3 deployed" in push.output, push.output
    assert live_platform.get(app).text == f"Hello again from Java {app}\n"
    print(f"java-maven push: cold {cold:.1f} s, warm {warm:.1f} s")

    pom = work / "pom.xml"
    pom.write_text(pom.read_text().replace("</artifactId>", "</artifactid>", 1))
    commit(work, "break pom.xml")
    push = live_platform.push(work)
    assert push.returncode != 0, push.output
    assert "remote:  !     Non-parseable POM pom.xml: end tag name </artifactid>" in push.output, push.output
    assert "@ line 10, column" in push.output
    assert live_platform.get(app).text == f"Hello again from Java {app}\n"
    releases = live_platform.deis("releases", cwd=work).ok().output
    assert "v3" in releases and "v4" not in releases, releases
