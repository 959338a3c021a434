"""The controller's glue to the scheduler, in process and fast: specs built from the database, fit
checks before a change is committed, and scheduler/router/service errors mapped to HTTP in one place.
The scheduler is the in-memory twin (:mod:`scheduler.memory`), whose placement is the real one; a
contract test checks the twin and the real :class:`~scheduler.scheduler.Scheduler` place alike."""
from __future__ import annotations

import inspect

import docker.errors
import paramiko
import pytest
import redis.exceptions
import requests
from sqlalchemy import select

from controller import db
from controller.app import create_app, error_status
from controller.events import EventLog
from controller.models import App
from controller.releases import latest
from controller.scheduling import Deployer, release_spec, spec_for
from deiscore import settings as platform_settings
from router.errors import ConfigRejected, HostnameConflict, InvalidRoute, NginxError
from scheduler.errors import DeployError, HostError, InvalidSpec, SchedulerError, Superseded, Unschedulable
from scheduler.interface import SchedulerBackend
from scheduler.memory import MemoryScheduler
from scheduler.pool import HostPool, HostRecord
from scheduler.scheduler import Scheduler
from scheduler.spec import ReleaseSpec
from scheduler.spread import HostInfo
from scheduler.swarm import SwarmScheduler

GIB = 1024 ** 3


class Api:
    """The controller in process (Flask's test client), with the twin as its scheduler."""

    def __init__(self, home, hosts):
        settings = platform_settings.load({"DEIS_HOME": str(home), "DEIS_SCHEDULER": "off"})
        db.upgrade(settings.database_url)  # what `deisctl migrate` does
        self.flask = create_app(settings)
        self.scheduler = MemoryScheduler(hosts)
        self.flask.extensions["deis_deployer"] = Deployer(self.scheduler, EventLog(home / "events"))
        self.client = self.flask.test_client()
        assert self.client.post("/v1/auth/register", json={"username": "ada", "password": "s3cret-pass",
                                                           "email": "ada@example.com"}).status_code == 201
        token = self.client.post("/v1/auth/login", json={"username": "ada", "password": "s3cret-pass"}).json["token"]
        self.headers = {"Authorization": f"token {token}"}

    def __getattr__(self, method):  # get, post, delete
        return lambda path, **kw: getattr(self.client, method)(f"/v1{path}", headers=self.headers, **kw)

    def new_app(self, name, procfile=None):
        assert self.post("/apps", json={"id": name}).status_code == 201
        r = self.post(f"/apps/{name}/builds", json={"image": "registry.example.com/web:1",
                                                     "procfile": procfile or {"web": "serve"}})
        assert r.status_code == 201, r.json
        self.deploy(name)
        return name

    def deploy(self, name):
        """What the app's deploy job does (it runs in a worker, not here): converge to the newest
        release, which then serves."""
        with self.flask.extensions["deis_sessions"]() as rows:
            app = rows.scalar(select(App).where(App.name == name))
            release = latest(rows, app)
            self.scheduler.deploy(release_spec(rows, app, release))
            release.status = "succeeded"
            rows.commit()

    def versions(self, app):
        return sorted(r["version"] for r in self.get(f"/apps/{app}/releases").json["results"])


@pytest.fixture
def api(tmp_path):
    return Api(tmp_path, [HostInfo("h1", 2 * GIB), HostInfo("h2", 2 * GIB, {"zone": "b"})])


def detail(response, status):
    assert response.status_code == status, (response.status_code, response.json)
    assert set(response.json) == {"detail"}, response.json
    return response.json["detail"]


def test_every_backend_has_the_interface():
    members = [name for name, value in vars(SchedulerBackend).items() if callable(value) and not name.startswith("_")]
    assert {"deploy", "scale", "restart", "destroy", "slots_for", "deployed_version", "status", "run", "logs",
            "events"} <= set(members)
    for backend in (Scheduler, SwarmScheduler, MemoryScheduler):
        for name in members:
            wanted = inspect.signature(getattr(SchedulerBackend, name)).parameters
            found = inspect.signature(getattr(backend, name)).parameters
            assert [p for p in found if p in wanted] == list(wanted), (backend, name, list(found))
    assert isinstance(MemoryScheduler(), SchedulerBackend)


def test_spec_from_the_database(api):
    app = api.new_app("glue", {"web": "serve", "worker": "work"})
    assert api.post(f"/apps/{app}/config", json={"values": {"HEALTHCHECK_URL": "/up", "HEALTHCHECK_TIMEOUT": "3",
                                                            "ROUTER_READ_TIMEOUT": "30", "A": "1"}}).status_code == 201
    assert api.post(f"/apps/{app}/limits", json={"memory": {"web": "256m"}, "cpu": {"worker": 0.5}}).status_code == 201
    assert api.post(f"/apps/{app}/domains", json={"domain": "glue.example.com"}).status_code == 201
    with api.flask.extensions["deis_sessions"]() as rows:
        row = rows.scalar(select(App).where(App.name == app))
        release = latest(rows, row)
        spec = spec_for(rows, row, release.version, release.build, release.config, {"web": 2})
        assert spec.app == app and spec.version == release.version and spec.image == "registry.example.com/web:1"
        assert spec.scale == {"web": 2} and spec.procfile == {"web": "serve", "worker": "work"}
        assert spec.limits == {"web": {"memory": "256M"}, "worker": {"cpu": 0.5}}
        assert spec.healthcheck.path == "/up" and spec.healthcheck.timeout == 3.0
        assert spec.routing == {"read_timeout": "30"} and spec.domains == ("glue.example.com",)
        assert spec.config["A"] == "1"
        assert spec_for(rows, row, 1, None, release.config) is None  # no build: nothing to run


def test_a_change_that_does_not_fit_is_refused_before_it_is_written(api):
    app = api.new_app("fits")
    assert api.post(f"/apps/{app}/scale", json={"web": 2}).status_code == 200
    api.deploy(app)
    before = api.versions(app)
    # 512m each by default: 2 GiB hosts take 8 web processes, not 9
    assert "1 of 9 processes do not fit" in detail(api.post(f"/apps/{app}/scale", json={"web": 9}), 409)
    assert "do not fit" in detail(api.post(f"/apps/{app}/limits", json={"memory": {"web": "3g"}}), 409)
    assert "no healthy host has the tags zone=a" in detail(api.post(f"/apps/{app}/tags", json={"values": {"zone": "a"}}), 409)
    assert api.versions(app) == before
    assert api.get(f"/apps/{app}").json["structure"] == {"web": 2}
    # what fits is placed where the real placement puts it: spread, then only on tagged hosts
    assert sorted(c.host for c in api.scheduler.containers[app]) == ["h1", "h2"]
    assert api.post(f"/apps/{app}/tags", json={"values": {"zone": "b"}}).status_code == 201
    api.deploy(app)
    running = [c for c in api.scheduler.containers[app] if c.running]
    assert {c.host for c in running} == {"h2"} and len(running) == 2


def test_rollback_to_a_release_that_no_longer_fits_is_refused_and_changes_nothing(api):
    app = api.new_app("rolls")
    assert api.post(f"/apps/{app}/tags", json={"values": {"zone": "b"}}).status_code == 201  # v3: on h2
    api.deploy(app)
    assert api.post(f"/apps/{app}/tags", json={"values": {"zone": None}}).status_code == 201  # v4: anywhere
    api.deploy(app)
    api.scheduler.hosts["h2"] = HostInfo("h2", 2 * GIB)  # h2 loses its zone tag: v3 fits nowhere now
    before = api.versions(app)
    assert "no healthy host has the tags zone=b" in detail(api.post(f"/apps/{app}/releases/rollback",
                                                                    json={"version": "v3"}), 409)
    assert api.versions(app) == before
    assert api.get(f"/apps/{app}/tags").json == {"tags": {}}
    assert api.post(f"/apps/{app}/releases/rollback", json={"version": "v2"}).status_code == 201  # fits


def test_a_release_is_current_only_once_its_deploy_succeeded(api):
    app = api.new_app("status")
    assert api.get(f"/apps/{app}").json["release"] == 2
    assert api.post(f"/apps/{app}/config", json={"values": {"A": "1"}}).status_code == 201  # v3, queued
    info = api.get(f"/apps/{app}").json
    assert info["release"] == 2 and info["newest_release"]["status"] == "queued"
    with api.flask.extensions["deis_sessions"]() as rows:  # what the deploy job records when a check fails
        from controller.deploys import set_status
        from controller.models import Release

        set_status(rows, rows.scalar(select(Release.id).where(Release.version == 3)), "failed", "web.1: not healthy")
    info = api.get(f"/apps/{app}").json
    assert info["release"] == 2 and info["newest_release"] == {"version": 3, "status": "failed",
                                                               "status_detail": "web.1: not healthy"}
    listed = {r["version"]: (r["status"], r["status_detail"]) for r in api.get(f"/apps/{app}/releases").json["results"]}
    assert listed == {3: ("failed", "web.1: not healthy"), 2: ("succeeded", None), 1: ("succeeded", None)}
    # Heroku's model: the next change builds on the newest release, failed or not (A stays set)
    assert api.post(f"/apps/{app}/config", json={"values": {"B": "2"}}).status_code == 201
    assert api.get(f"/apps/{app}/config").json["values"] == {"A": "1", "B": "2"}
    # scale, restart and run act on what serves (v2)
    assert api.post(f"/apps/{app}/scale", json={"web": 2}).status_code == 200


def test_other_apps_load_counts(api):
    big = api.new_app("big")
    assert api.post(f"/apps/{big}/scale", json={"web": 6}).status_code == 200  # 3 GiB of 4
    api.deploy(big)
    small = api.new_app("small")
    assert "do not fit" in detail(api.post(f"/apps/{small}/scale", json={"web": 3}), 409)
    assert api.post(f"/apps/{small}/scale", json={"web": 2}).status_code == 200


@pytest.mark.parametrize("error, status, fragment", [
    (HostError("h1", "listing containers", "connection refused"), 503, "container engine is unavailable"),
    (SchedulerError("no hosts to place processes on"), 503, "no hosts"),
    (docker.errors.APIError("500 Server Error: engine broke"), 503, "container engine did not answer"),
    (requests.ConnectionError("connection refused"), 503, "did not answer"),
    (paramiko.SSHException("no route"), 503, "host over SSH"),
    (redis.exceptions.ConnectionError("Redis went away"), 503, "Redis did not answer"),
    (ConnectionRefusedError(111, "Connection refused"), 503, "did not answer"),
    (InvalidSpec("restart target", "web.x", "expected TYPE or TYPE.NUM"), 400, "invalid restart target"),
    (InvalidRoute("glue", "hostname", "a..b", "not a hostname"), 400, "invalid hostname"),
])
def test_errors_of_the_scheduler_and_services_are_json_never_500(api, error, status, fragment):
    app = api.new_app("errs")
    api.scheduler.fail("status", error)
    assert fragment in detail(api.get(f"/apps/{app}/containers"), status)
    assert api.get(f"/apps/{app}/containers").status_code == 200  # one failure, then back to normal


def test_logs_survive_an_engine_failure(api):
    app = api.new_app("logs")
    api.scheduler.fail("logs", HostError("h1", "reading logs", "timed out"))
    detail(api.get(f"/apps/{app}/logs"), 503)
    api.scheduler.output[app] = ["2026-01-01T00:00:00Z logs[web.1]: hello"]
    r = api.get(f"/apps/{app}/logs")
    assert r.status_code == 200 and "hello" in r.text


def test_fit_check_errors_are_mapped_too(api):
    app = api.new_app("fitcheck")
    before = api.versions(app)
    api.scheduler.fail("slots_for", HostError("h1", "listing containers", "no route to host"))
    assert "unavailable" in detail(api.post(f"/apps/{app}/config", json={"values": {"A": "1"}}), 503)
    assert api.versions(app) == before


def test_error_status_table():
    assert error_status(Unschedulable("a", "web", "full"))[0] == 409
    assert error_status(Superseded("a", 2, 3))[0] == 409
    assert error_status(DeployError("a", 2, "unhealthy"))[0] == 409
    assert error_status(HostnameConflict("a", "x.example.com", "b"))[0] == 409
    assert error_status(ConfigRejected("nginx: [emerg] ..."))[0] == 400
    assert error_status(NginxError("reload failed"))[0] == 503
    assert error_status(TimeoutError("timed out"))[0] == 503


# -- the twin and the real scheduler agree ---------------------------------------------------------

class _Engine:
    """Just enough of a Docker client for placement: an engine with no containers."""

    class api:  # noqa: N801 - the SDK's attribute name
        @staticmethod
        def containers(**kwargs):
            return []


def _real(tmp_path, hosts: list[HostInfo]) -> Scheduler:
    records = [HostRecord(h.name, "127.0.0.1", None if i == 0 else f"ssh://root@10.0.0.{i}", h.memory, dict(h.tags))
               for i, h in enumerate(hosts)]
    pool = HostPool(lambda: records, lambda record, timeout=None: _Engine(), "deis-test", tmp_path)
    return Scheduler(pool, None, tmp_path, "deis.localhost")


CASES = [
    ({"web": 4}, {}, {}),
    ({"web": 5, "worker": 1}, {"web": {"memory": "1g"}}, {}),  # 6 GiB of 4: too much
    ({"web": 2}, {"web": {"memory": "3g"}}, {}),  # bigger than any host
    ({"web": 2}, {}, {"zone": "b"}),
    ({"web": 1}, {}, {"zone": "nowhere"}),
]


@pytest.mark.parametrize("scale, limits, tags", CASES)
def test_twin_and_real_scheduler_place_alike(tmp_path, scale, limits, tags):
    hosts = [HostInfo("h1", 2 * GIB), HostInfo("h2", 2 * GIB, {"zone": "b"})]
    spec = ReleaseSpec(app="same", version=2, image="example/web:1", kind="image",
                       procfile={"web": "serve", "worker": "work"}, scale=scale, limits=limits, tags=tags)
    outcomes = []
    for backend in (MemoryScheduler(hosts), _real(tmp_path, hosts)):
        try:
            outcomes.append(sorted(backend.slots_for(spec, [])))
        except Unschedulable as exc:
            outcomes.append(str(exc))
    assert outcomes[0] == outcomes[1]
