"""A corpus of garbage sent to every route of a real running platform (``deisctl up``, the real
scheduler on, an app deployed): wrong types, huge, negative, unicode and NUL values, bad JSON,
wrong methods, unknown process types, bad limits, domains, keys, tags, versions, counts, hosts.
Nothing may answer 5xx (or hang), every refusal is a JSON ``{"detail"}``, and nothing is
half-written: the platform's state reads the same afterwards."""
from __future__ import annotations

import json
import time
import uuid

import pytest
import requests

from tests.e2e.conftest import wait_until

pytestmark = pytest.mark.slow

TIMEOUT = 20  # seconds one request may take; none of the corpus should come near it
BUDGET = 240  # seconds the whole corpus may take
WEB = "python3 -m http.server $PORT"

HUGE_INT = 10 ** 30
LONG = "a" * 5000
# Values that are not what any field wants: the wrong JSON type, or a string no rule accepts.
WRONG_TYPES = [None, True, 1.5, -1, HUGE_INT, [], {}, ["x"], {"a": 1}]
BAD_STRINGS = ["", " ", "\x00", "a\x00b", "é", "\u202e", "💥", LONG, "../../etc/passwd", "-rf", "$(id)", "\n", "%00"]
BAD_JSON = [b"{not json", b"[1, 2", b"null", b"\"a string\"", b"[]", b"42", b"\xff\xfe", b"{" * 2000 + b"}" * 2000]
NOT_NUMBERS = [b"NaN", b"Infinity", b"-Infinity", b"1e999"]  # what Python's json reads, and JSON has not


def strings_and_types():
    return BAD_STRINGS + WRONG_TYPES


class Corpus:
    def __init__(self, url: str, token: str):
        self.url, self.session = url, requests.Session()
        self.session.headers["Authorization"] = f"token {token}"
        self.sent = 0
        self.problems: list[str] = []
        self.accepted: list[str] = []  # 2xx answers to a change: each a validation gap
        self.deadline = time.monotonic() + BUDGET

    def send(self, method: str, path: str, *, json_body=..., raw: bytes | None = None, params=None,
             change: bool = True, session: requests.Session | None = None) -> None:
        assert time.monotonic() < self.deadline, f"the corpus took longer than {BUDGET}s ({self.sent} requests)"
        kwargs = {"timeout": TIMEOUT, "params": params}
        if raw is not None:
            kwargs.update(data=raw, headers={"Content-Type": "application/json"})
        elif json_body is not ...:
            kwargs.update(data=json.dumps(json_body), headers={"Content-Type": "application/json"})
        body = raw if raw is not None else "" if json_body is ... else repr(json_body)
        what = f"{method} {path}{'?' + str(params) if params else ''} {body}"[:300]
        self.sent += 1
        try:
            r = (session or self.session).request(method, f"{self.url}/v1{path}", **kwargs)
        except requests.RequestException as exc:
            self.problems.append(f"{what}: no answer: {exc}")
            return
        if r.status_code >= 500:
            self.problems.append(f"{what}: {r.status_code} {r.text[:200]}")
        elif r.status_code >= 400:
            try:
                body = r.json()
            except ValueError:
                body = None
            if not (isinstance(body, dict) and set(body) == {"detail"} and isinstance(body["detail"], str)):
                self.problems.append(f"{what}: {r.status_code} is not JSON {{detail}}: {r.text[:200]}")
        elif change and method != "GET":
            self.accepted.append(f"{what}: {r.status_code} {r.text[:200]}")

    def post_each(self, path: str, bodies, field: str = "a", **kwargs) -> None:
        """``bodies``, then malformed JSON, then not-a-number values of ``field``."""
        for body in bodies:
            self.send("POST", path, json_body=body, **kwargs)
        for raw in BAD_JSON:
            self.send("POST", path, raw=raw, **kwargs)
        for value in NOT_NUMBERS:
            self.send("POST", path, raw=b'{"%s": %s}' % (field.encode(), value), **kwargs)


def _login(url: str, username: str, password: str) -> str:
    r = requests.post(f"{url}/v1/auth/login", json={"username": username, "password": password}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["token"]


def _snapshot(session: requests.Session, url: str, app: str) -> dict:
    """What the corpus must not change, as the API shows it."""
    paths = ["/apps", f"/apps/{app}", f"/apps/{app}/releases", f"/apps/{app}/config", f"/apps/{app}/limits",
             f"/apps/{app}/tags", f"/apps/{app}/domains", f"/apps/{app}/perms", f"/apps/{app}/builds",
             f"/apps/{app}/registry", "/keys", "/hosts", "/users", "/admin/perms", "/auth/whoami"]
    state = {}
    for path in paths:
        r = session.get(f"{url}/v1{path}", params={"limit": 1000}, timeout=TIMEOUT)
        assert r.status_code == 200, (path, r.status_code, r.text)
        state[path] = r.json()
    return state


@pytest.fixture(scope="module")
def deployed(live_platform):
    """(controller URL, admin token, an app serving its first image release)."""
    url = live_platform.controller_url
    token = _login(url, "admin", "admin-pass-1")
    api = requests.Session()
    api.headers["Authorization"] = f"token {token}"
    app = f"bad-{uuid.uuid4().hex[:6]}"
    assert api.post(f"{url}/v1/apps", json={"id": app}, timeout=TIMEOUT).status_code == 201
    r = api.post(f"{url}/v1/apps/{app}/builds", json={"image": "deis/stack:bookworm", "procfile": {"web": WEB}},
                 timeout=300)
    assert r.status_code == 201, r.text

    def serving():
        releases = api.get(f"{url}/v1/apps/{app}/releases", timeout=TIMEOUT).json()["results"]
        return any(rel["version"] == 2 and rel.get("status", "succeeded") == "succeeded" for rel in releases)
    assert wait_until(serving, 120, interval=1), api.get(f"{url}/v1/apps/{app}/releases").text + live_platform.logs()
    return url, token, app


def test_garbage_to_every_route_answers_4xx_and_changes_nothing(live_platform, deployed):
    url, token, app = deployed
    corpus = Corpus(url, token)
    # A throwaway account for the routes that act on the caller's own account (cancel, passwd).
    requests.post(f"{url}/v1/auth/register", json={"username": "mallory", "password": "mallory-pass-1",
                                                   "email": "mallory@example.com"}, timeout=10)
    mallory = requests.Session()
    mallory.headers["Authorization"] = f"token {_login(url, 'mallory', 'mallory-pass-1')}"
    before = _snapshot(corpus.session, url, app)
    weird_names = ["", "UPPER", "-lead", "trail-", "a--b", "a_b", "é", "a\x00b", "%00", "..", "a" * 300,
                   "💥", "a b", "a%2Fb", "%2e%2e"]

    # accounts
    corpus.post_each("/auth/register", [{"username": v, "password": "long-enough-1", "email": "x@example.com"}
                                        for v in strings_and_types()]
                     + [{"username": "ok-name", "password": v, "email": "x@example.com"} for v in WRONG_TYPES + ["", "\x00"]]
                     + [{"username": "ok-name", "password": "long-enough-1", "email": v} for v in WRONG_TYPES + ["not-an-email", "a@\x00"]]
                     + [{"username": "admin", "password": "long-enough-1", "email": "x@example.com"}])
    corpus.post_each("/auth/login", [{"username": v, "password": v} for v in strings_and_types()], change=False)
    corpus.post_each("/auth/passwd", [{"password": "mallory-pass-1", "new_password": v} for v in WRONG_TYPES + ["", "\x00"]]
                     + [{"password": v, "new_password": "another-pass-1"} for v in WRONG_TYPES + ["wrong"]], session=mallory)
    corpus.post_each("/auth/tokens", [{"name": v} for v in WRONG_TYPES], field="name", change=False,
                     session=mallory)
    for token_id in ["0", "-1", "99999999999999999999", "abc", "1.5", "%00"]:
        corpus.send("DELETE", f"/auth/tokens/{token_id}", session=mallory)
    for raw in BAD_JSON:
        corpus.send("DELETE", "/auth/cancel", raw=raw, session=mallory)
    corpus.send("DELETE", "/auth/cancel", json_body={"username": "admin"}, session=mallory)  # not hers to cancel

    # keys
    corpus.post_each("/keys", [{"id": "k", "public": v} for v in strings_and_types()]
                     + [{"id": v, "public": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINotAValidKeyButLooksLikeOne u@h"}
                        for v in WRONG_TYPES + ["", "\x00"]]
                     + [{"public": "ssh-ed25519 " + "A" * 100000}, {"public": "ssh-rsa AAAA"}, {"public": "-----BEGIN"}])
    for name in weird_names + ["SHA256:" + "A" * 43, "a/b/c"]:
        corpus.send("DELETE", f"/keys/{name}")

    # apps
    corpus.post_each("/apps", [{"id": v} for v in BAD_STRINGS + WRONG_TYPES[1:] + weird_names] + [{"id": app}],
                     field="id")  # (no id: a random name)
    for name in weird_names:
        corpus.send("GET", f"/apps/{name}")
        corpus.send("DELETE", f"/apps/{name}")
        corpus.send("GET", f"/apps/{name}/releases")
    corpus.post_each(f"/apps/{app}/transfer", [{"username": v} for v in strings_and_types() + ["nobody-here"]])

    # config (each would be a release)
    config = f"/apps/{app}/config"
    keys = ["", "1A", "A-B", "A B", "A\x00", "é", "=", "A=B", "💥", None]
    corpus.post_each(config, [{"values": {k: "v"} for k in keys if k is not None}]
                     + [{"values": {key: "v"}} for key in keys if key is not None]
                     + [{"values": {"A": v}} for v in [1, 1.5, True, [], {"x": 1}, "a\x00b"]]
                     + [{"values": {"NEVER_SET": None}}, {"values": {}}] + [{"values": v} for v in WRONG_TYPES]
                     + [{"values": {"HEALTHCHECK_URL": v}} for v in ["", "no-slash", "/a b", "/\n", 5]]
                     + [{"values": {"HEALTHCHECK_URL": "/", "HEALTHCHECK_STATUS": v}} for v in ["abc", "99", "600", "-1", "1e9"]]
                     + [{"values": {"HEALTHCHECK_URL": "/", "HEALTHCHECK_TIMEOUT": v}} for v in ["nan", "inf", "-1", "0", "1e9", "x"]]
                     + [{"values": {"ROUTER_MAX_BODY_SIZE": v}} for v in ["-1", "1q", "huge", "1" * 40, "1m;evil", "\x00"]]
                     + [{"values": {"ROUTER_READ_TIMEOUT": v}} for v in ["-1s", "1y", "0", "9" * 40, "1s; evil"]]
                     + [{"unknown": {"A": "1"}}])

    # limits (releases) and scale
    limits = f"/apps/{app}/limits"
    memory = ["1M", "0", "-1g", "99999999999g", "5m", "1.5g", "1t", "", "g", "1gg", "\x00", "٣g", 5, 1.5, True, []]
    cpu = [0, -1, 1000, 65, 0.001, "abc", "", True, [], "nan"]
    corpus.post_each(limits, [{"memory": {"web": v}} for v in memory] + [{"cpu": {"web": v}} for v in cpu]
                     + [{"memory": {"nope": "256m"}}, {"memory": {"": "256m"}},
                        {"memory": {"WEB": "256m"}}, {"memory": {"web\x00": "256m"}}, {"memory": {"web": None}},
                        {"memory": {"web": "900g"}}] + [{"memory": v} for v in WRONG_TYPES]
                     + [{"disk": {"web": "1g"}}, {}])
    corpus.send("POST", limits, raw=b'{"cpu": {"web": NaN}}')
    corpus.send("POST", limits, raw=b'{"cpu": {"web": Infinity}}')
    scale = f"/apps/{app}/scale"
    counts = ["1M", "-1", -1, 99999999999, HUGE_INT, 101, 1.5, True, None, "٣", "", " 1", "1 ", "0x1", [], {}]
    corpus.post_each(scale, [{"web": v} for v in counts] + [{"nope": 1}, {"": 1}, {"web\x00": 1}, {"run": 1},
                                                            {"WEB": 1}, {}, {"web": 1, "nope": 1}])

    # tags (releases)
    tags = f"/apps/{app}/tags"
    corpus.post_each(tags, [{"values": {"zone": v}} for v in strings_and_types()]
                     + [{"values": {k: "a"}} for k in BAD_STRINGS]
                     + [{"values": {"never-set": None}}, {"values": {}}] + [{"values": v} for v in WRONG_TYPES]
                     + [{"values": {"zone": "nowhere"}}])  # fits no host: refused before it is written

    # releases and rollback
    for version in ["0", "-1", "99999999999", "v0", "v", "1e3", "%00", "٣", "1.5", "v99999999999999999999"]:
        corpus.send("GET", f"/apps/{app}/releases/{version}")
    for params in [{"limit": "-1"}, {"limit": "abc"}, {"limit": "99999999999999999999"}, {"limit": "\x00"}]:
        corpus.send("GET", f"/apps/{app}/releases", params=params)
    corpus.post_each(f"/apps/{app}/releases/rollback",
                     [{"version": v} for v in [0, -1, 99999999999, HUGE_INT, "v99", "abc", "1e3", 1.5, True, [], {},
                                               "٣", "\x00", "", 99, "v99999999999999999999"]], field="version")

    # builds and the registry settings
    builds = f"/apps/{app}/builds"
    corpus.post_each(builds, [{"image": v, "procfile": {"web": WEB}} for v in strings_and_types()
                              + ["registry.example.com/x:1 --privileged", "UPPER/Case:1", "a@sha256:bad", "::"]]
                     + [{"image": "deis/stack:bookworm", "procfile": v} for v in [True, 1.5, -1, HUGE_INT, [], ["x"], {"a": 1}, "web: x"]]
                     + [{"image": "deis/stack:bookworm", "procfile": {k: WEB}} for k in ["", "Web", "run", "a" * 100, "web\x00", "💥"]]
                     + [{"image": "deis/stack:bookworm", "procfile": {"web": v}} for v in ["", "\x00", 5, None, []]])
    corpus.post_each(f"/apps/{app}/registry", [{"username": v} for v in WRONG_TYPES[1:]]
                     + [{"password": v} for v in WRONG_TYPES[1:]] + [{v: "x"} for v in ["", "token", "\x00"]]
                     + [{"username": "u\x00", "password": "p"}, {"username": LONG * 100}])

    # domains
    domains = f"/apps/{app}/domains"
    corpus.post_each(domains, [{"domain": v} for v in strings_and_types()
                               + ["a..b", "-a.com", ".com", "a.", "a" * 64 + ".com", ("a" * 60 + ".") * 5 + "com",
                                  "exämple.com", "example.com\x00", "1.2.3.4", "a b.com", "*", "*.*.example.com",
                                  "example.com:80", "http://example.com", "EXAMPLE.COM.", f"{app}.deis.localhost",
                                  "localhost", "a_b.example.com", "xn--.com"]]
                     + [{"domains": ["x.example.com"]}])
    for name in weird_names + ["not-mine.example.com"]:
        corpus.send("DELETE", f"/apps/{app}/domains/{name}")

    # permissions
    corpus.post_each(f"/apps/{app}/perms", [{"username": v} for v in strings_and_types() + ["nobody-here"]])
    for name in weird_names + ["nobody-here"]:
        corpus.send("DELETE", f"/apps/{app}/perms/{name}")
        corpus.send("DELETE", f"/admin/perms/{name}")
    corpus.post_each("/admin/perms", [{"username": v} for v in strings_and_types() + ["nobody-here"]])

    # processes: ps, restart, logs, run
    corpus.send("GET", f"/apps/{app}/containers")
    corpus.post_each(f"/apps/{app}/containers/restart",
                     [{"target": v} for v in WRONG_TYPES[1:] + BAD_STRINGS[1:]
                      + ["nope", "web.x", "web.-1", "web.0.1", "web.99999999999999999999", "web.", ".1", "run",
                         "web.2", "web.0", "web.٣"]], field="target")
    for params in [{"lines": v} for v in ["-1", "abc", "1e3", "99999999999", "", "\x00", "٣", "10001"]]:
        corpus.send("GET", f"/apps/{app}/logs", params=params)
    corpus.post_each(f"/apps/{app}/run/detached", [{"command": v} for v in WRONG_TYPES + ["", " ", "\x00", "a\x00b"]]
                     + [{"cmd": "true"}])

    # deploys (their log)
    for deploy_id in ["x" * 100, "%00", "..", "nope"]:
        corpus.send("GET", f"/apps/{app}/deploys/{deploy_id}", params={"wait": "1"})
    for params in [{"since": "-1"}, {"since": "abc"}, {"wait": "nan"}, {"wait": "inf"}, {"wait": "-1"},
                   {"wait": "1e999"}, {"since": "99999999999999999999"}]:
        corpus.send("GET", f"/apps/{app}/deploys/0123456789abcdef", params=params)

    # hosts (admin)
    corpus.post_each("/hosts", [{"url": v} for v in strings_and_types()
                                + ["ssh://root@", "http://1.2.3.4", "ssh://root@1.2.3.4:99999", "ssh://root@1.2.3.4:0",
                                   "ssh://root@[::1", "ssh://ROOT@1.2.3.4", "ssh://root@1.2.3.4/x", "ssh://root@127.0.0.1:1"]]
                     + [{"url": "ssh://root@127.0.0.1:1", "name": v} for v in WRONG_TYPES + ["UPPER", "a" * 100, "\x00"]]
                     + [{"url": "ssh://root@127.0.0.1:1", "tags": v} for v in WRONG_TYPES[1:] + [{"a": 1}, {"": "x"}, {"a": "\x00"}]]
                     + [{"url": "ssh://root@127.0.0.1:1", "host_key": v} for v in WRONG_TYPES + ["ssh-ed25519", "x y"]])
    for name in weird_names + ["nope"]:
        corpus.send("DELETE", f"/hosts/{name}")

    # hooks: without the builder's secret, whatever the body
    for hook in ["key", "push", "fetch", "builds"]:
        corpus.post_each(f"/hooks/{hook}", [{"fingerprint": v, "app": v} for v in WRONG_TYPES])

    # wrong methods
    for path in ["/apps", f"/apps/{app}", f"/apps/{app}/config", f"/apps/{app}/releases", f"/apps/{app}/scale",
                 f"/apps/{app}/limits", f"/apps/{app}/tags", f"/apps/{app}/domains", "/keys", "/hosts", "/users",
                 f"/apps/{app}/run/detached", f"/apps/{app}/containers", "/auth/login"]:
        for method in ["PUT", "PATCH", "OPTIONS", "TRACE"]:
            corpus.send(method, path, json_body={"a": 1}, change=False)

    assert not corpus.problems and not corpus.accepted, (
        f"of {corpus.sent} requests, {len(corpus.problems)} failed:\n" + "\n".join(corpus.problems)
        + f"\n{len(corpus.accepted)} changes were accepted:\n" + "\n".join(corpus.accepted))
    after = _snapshot(corpus.session, url, app)
    changed = {path: (before[path], after[path]) for path in before if before[path] != after[path]}
    assert not changed, changed
    print(f"{corpus.sent} requests, none answered 5xx")
