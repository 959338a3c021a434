"""PHP apps, end to end: git push over OpenSSH to the real builder, the stack's build image runs composer
offline (platform requirements only), the slug runs on the run image as the run user with Heroku's
heroku-php-apache2 and heroku-php-nginx commands (Apache or nginx with PHP-FPM) and answers through the
router. A push whose composer.json is malformed is rejected with the parser's position and the release
before it keeps serving."""
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


def test_apache_app_deploys_and_answers_through_the_router(live_platform):
    work = live_platform.checkout("php-apache")
    app = live_platform.create_app(work)
    push, cold = timed_push(live_platform, work)
    assert push.returncode == 0, push.output + live_platform.logs()
    assert "-----> PHP app detected" in push.output
    assert "Installing dependencies from lock file" in push.output
    assert f"{app} v2 deployed" in push.output
    r = live_platform.get(app)
    assert r.status_code == 200 and r.text.startswith(f"Hello from PHP {app}\nPHP 8."), r.text
    assert "Apache" in r.text
    assert live_platform.get(app, "/some/route").text.startswith(f"Hello from PHP {app}\n")  # .htaccess honoured
    assert live_platform.get(app, "/.htaccess").status_code == 403

    index = work / "web" / "index.php"
    index.write_text(index.read_text().replace("Hello from PHP", "Hello again from PHP"))
    commit(work, "greeting")
    push, warm = timed_push(live_platform, work)
    assert push.returncode == 0 and f"{app} v3 deployed" in push.output, push.output
    assert live_platform.get(app).text.startswith(f"Hello again from PHP {app}\n")
    print(f"php-apache push: cold {cold:.1f} s, warm {warm:.1f} s")


def test_nginx_app_deploys_and_a_malformed_composer_json_is_rejected(live_platform):
    work = live_platform.checkout("php-nginx")
    app = live_platform.create_app(work)
    push, cold = timed_push(live_platform, work)
    assert push.returncode == 0, push.output + live_platform.logs()
    assert "-----> PHP app detected" in push.output
    r = live_platform.get(app)
    assert r.status_code == 200 and r.text.startswith(f"Hello from PHP {app}\nPHP 8."), r.text
    assert "nginx" in r.text
    print(f"php-nginx push: cold {cold:.1f} s")

    composer = work / "composer.json"
    composer.write_text(composer.read_text().replace('"php": ">=8.1"', '"php": ">=8.1",'))
    commit(work, "break composer.json")
    push = live_platform.push(work)
    assert push.returncode != 0, push.output
    assert "remote:  !     composer.json is not valid JSON: Expecting property name enclosed in double quotes: " \
           "line 8 column 5" in push.output, push.output
    assert live_platform.get(app).text.startswith(f"Hello from PHP {app}\n")
    releases = live_platform.deis("releases", cwd=work).ok().output
    assert "v2" in releases and "v3" not in releases, releases
