"""Builder hooks, authenticated by the builder secret: key owner, may-push, register a build."""
from __future__ import annotations

import subprocess

import pytest
import requests

from tests.controller.helpers import assert_error, new_app, new_user, releases, set_config, unique


@pytest.fixture(scope="module")
def key_line(tmp_path_factory):
    path = tmp_path_factory.mktemp("hookkeys") / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pusher", "-f", str(path)], check=True)
    return path.with_suffix(".pub").read_text().strip()


def hook(ctl, path, body, secret=None):
    headers = {} if secret is False else {"X-Deis-Builder-Secret": secret or ctl.builder_secret}
    return requests.post(f"{ctl.url}/v1/hooks/{path}", json=body, headers=headers, timeout=10)


def test_hooks(shared_controller, key_line):
    ctl = shared_controller
    new_user(ctl, "admin")  # the first user is an administrator, who may push anywhere
    pusher, api = new_user(ctl, "pusher")
    stranger, stranger_api = new_user(ctl, "hookstr")
    fingerprint = api.post(f"{ctl.url}/v1/keys", json={"public": key_line}).json()["fingerprint"]
    app = new_app(ctl, api)
    set_config(ctl, api, app, {"SECRET_SAUCE": "a=b\nc"})
    build = {"app": app, "user": pusher, "image": f"127.0.0.1:5000/{app}@sha256:{'c' * 64}",
             "sha": "abc1234def5678", "kind": "buildpack", "procfile": {"web": "python app.py"}}

    # the secret: missing, wrong, or a user token instead of it
    for path, body in (("key", {"fingerprint": fingerprint}), ("push", {"fingerprint": fingerprint, "app": app}),
                       ("fetch", {"fingerprint": fingerprint, "app": app}), ("builds", build)):
        assert_error(hook(ctl, path, body, secret=False), 401, "builder secret")
        assert_error(hook(ctl, path, body, secret="wrong-secret"), 401, "builder secret")
        r = api.post(f"{ctl.url}/v1/hooks/{path}", json=body)
        assert_error(r, 401)
    assert len(releases(ctl, api, app)) == 2

    r = hook(ctl, "key", {"fingerprint": fingerprint})
    assert r.status_code == 200 and r.json() == {"user": pusher}
    assert_error(hook(ctl, "key", {"fingerprint": "SHA256:unknownunknownunknown"}), 404, "deis keys:add")
    assert_error(hook(ctl, "key", {"fingerprint": "MD5:aa:bb"}), 400)
    assert_error(hook(ctl, "key", {}), 400)

    r = hook(ctl, "push", {"fingerprint": fingerprint, "app": app})
    assert r.status_code == 200, r.text
    uuid = api.get(f"{ctl.url}/v1/apps/{app}").json()["uuid"]
    assert r.json() == {"user": pusher, "app": app, "uuid": uuid, "config": {"SECRET_SAUCE": "a=b\nc"}}
    assert_error(hook(ctl, "push", {"fingerprint": fingerprint, "app": unique("nope")}), 404)
    assert_error(hook(ctl, "push", {"fingerprint": "SHA256:nobody", "app": app}), 404)
    other_app = new_app(ctl, stranger_api)
    # another user's app answers like a missing one: names cannot be probed through the builder
    assert_error(hook(ctl, "push", {"fingerprint": fingerprint, "app": other_app}), 404, "not found")

    # fetch (git clone): the owner (or an administrator) only; collaborators push but do not clone
    r = hook(ctl, "fetch", {"fingerprint": fingerprint, "app": app})
    assert r.status_code == 200 and r.json() == {"user": pusher, "app": app, "uuid": uuid}, r.text
    assert_error(hook(ctl, "fetch", {"fingerprint": fingerprint, "app": other_app}), 404, "not found")
    r = stranger_api.post(f"{ctl.url}/v1/apps/{other_app}/perms", json={"username": pusher})
    assert r.status_code in (200, 201), r.text
    assert hook(ctl, "push", {"fingerprint": fingerprint, "app": other_app}).status_code == 200
    assert_error(hook(ctl, "fetch", {"fingerprint": fingerprint, "app": other_app}), 403, "only the owner")
    assert_error(hook(ctl, "fetch", {"fingerprint": fingerprint, "app": unique("nope")}), 404)
    assert_error(hook(ctl, "fetch", {"fingerprint": "SHA256:nobody", "app": app}), 404)

    r = hook(ctl, "builds", build)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["release"] == {"version": 3, "summary": "deployed abc1234"}
    assert body["url"].startswith(f"http://{app}.")
    assert body["build"]["sha"] == "abc1234def5678" and body["build"]["kind"] == "buildpack"
    latest = releases(ctl, api, app)[-1]
    assert latest["version"] == 3 and latest["owner"] == pusher and latest["image"] == build["image"]
    assert api.get(f"{ctl.url}/v1/apps/{app}").json()["structure"] == {"web": 1}

    assert_error(hook(ctl, "builds", {**build, "app": unique("nope")}), 404)
    assert_error(hook(ctl, "builds", {**build, "user": unique("ghost")}), 404)
    assert_error(hook(ctl, "builds", {**build, "user": stranger}), 403, stranger)
    assert_error(hook(ctl, "builds", {**build, "sha": "not-hex!"}), 400, "invalid git sha")
    assert_error(hook(ctl, "builds", {**build, "kind": "magic"}), 400, "invalid build kind")
    assert_error(hook(ctl, "builds", {**build, "image": "Not An Image"}), 400, "invalid image")
    # the builder reports the digest it pushed to the app's own repository, nothing else
    for image in (f"127.0.0.1:5000/{app}:git-abc1234", f"127.0.0.1:5000/{other_app}@sha256:{'c' * 64}",
                  f"127.0.0.1:5000/{app}/x@sha256:{'c' * 64}", "c1", f"sha256:{'c' * 64}"):
        assert_error(hook(ctl, "builds", {**build, "image": image}), 400)
    assert_error(hook(ctl, "builds", {**build, "procfile": {"Web": "x"}}), 400, "invalid process type")
    assert len(releases(ctl, api, app)) == 3
