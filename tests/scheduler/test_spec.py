import json

import pytest

from scheduler.containers import (Hardening, container_name, from_attrs, from_summary, plan_oneoff, plan_process,
                                  reserved_memory)
from scheduler.errors import InvalidSpec
from deiscore import appjson
from scheduler.spec import Check, HealthCheck, ReleaseSpec


def spec(**overrides):
    base = dict(app="shop", version=3, image="127.0.0.1:5000/shop:git-abc", kind="buildpack",
                procfile={"web": "gunicorn app:app", "worker": "python worker.py"},
                config={"DATABASE_URL": "postgres://x", "PORT": "9999", "MULTI": "a=b\nc 'd' ü"},
                scale={"web": 2, "worker": 1}, limits={"web": {"memory": "256m", "cpu": 0.5}})
    base.update(overrides)
    return ReleaseSpec(**base)


def test_buildpack_process_plan():
    plan = plan_process(spec(), "web", 2, "deis-test")
    assert plan.name == "shop_v3.web.2" == container_name("shop", 3, "web", 2)
    assert plan.command == ["gunicorn app:app"]
    assert plan.env["PORT"] == "5000"  # the platform's PORT wins over config
    assert plan.env["DEIS_APP"] == "shop" and plan.env["DEIS_RELEASE"] == "v3"
    assert plan.env["MULTI"] == "a=b\nc 'd' ü"
    assert plan.labels == {"deis.platform": "deis-test", "deis.app": "shop", "deis.release": "3",
                           "deis.type": "web", "deis.num": "2", "deis.memory": str(256 << 20),
                           "deis.port": "5000"}
    assert plan.memory == "256m" and plan.nano_cpus == 500_000_000
    assert plan.publish
    worker = plan_process(spec(), "worker", 1, "deis-test")
    assert not worker.publish and worker.memory == "512m" and worker.nano_cpus is None  # the platform's default
    unlimited = plan_process(spec(), "worker", 1, "deis-test", hardening=Hardening(memory=None))
    assert unlimited.memory is None and "deis.memory" not in unlimited.labels
    # What placement counts as reserved on a host, read back from a listed container's labels.
    listed = from_summary({"Id": "c1", "Names": ["/shop_v3.worker.1"], "State": "running", "Created": 0,
                           "Labels": worker.labels}, "local", "127.0.0.1")
    assert reserved_memory(listed) == 512 << 20
    assert plan_process(spec(), "web", 1, "deis-test", hardening=Hardening(memory="1g")).memory == "256m"


def test_dockerfile_commands():
    s = spec(kind="dockerfile", procfile={"worker": "python w.py"}, scale={"cmd": 1, "worker": 1}, limits={})
    assert s.web_type == "cmd"
    assert plan_process(s, "cmd", 1, "p").command is None
    assert plan_process(s, "cmd", 1, "p").publish
    assert plan_process(s, "worker", 1, "p").command == ["sh", "-c", "python w.py"]
    assert plan_oneoff(s, "ls -la", "p", "ab12").command == ["sh", "-c", "ls -la"]
    assert plan_oneoff(spec(), "ls -la", "p", "ab12").command == ["ls -la"]
    assert plan_oneoff(s, "ls", "p", "ab12").name == "shop_v3.run.ab12"


def test_an_images_own_command_runs_as_web_on_its_port():
    """A new Dockerfile build: web is the image's command (""), on the image's exposed port."""
    s = spec(kind="dockerfile", procfile={"web": "", "worker": "python w.py"}, scale={"web": 1, "worker": 1},
             limits={}, port=8080)
    assert s.web_type == "web" and s.has_type("web") and not s.has_type("cmd")
    web = plan_process(s, "web", 1, "p")
    assert web.command is None and web.publish and web.port == 8080 and web.labels["deis.port"] == "8080"
    assert web.env["PORT"] == "8080"  # the platform's PORT (config said 9999)
    worker = plan_process(s, "worker", 1, "p")
    assert worker.command == ["sh", "-c", "python w.py"] and not worker.publish and "deis.port" not in worker.labels
    assert worker.env["PORT"] == "8080"
    with pytest.raises(InvalidSpec):
        spec(kind="dockerfile", procfile={"cmd": ""}, scale={"cmd": 1}, limits={}, port=0)
    with pytest.raises(InvalidSpec):
        spec(procfile={"web": ""}, scale={}, limits={})  # a buildpack command is never empty


def test_commands_reach_an_entrypoint_as_words():
    s = spec(kind="dockerfile", procfile={"web": "serve --port 8080 --greeting 'hi there' $PORT"},
             scale={"web": 1}, limits={}, entrypoint=True)
    assert plan_process(s, "web", 1, "p").command == ["serve", "--port", "8080", "--greeting", "hi there", "$PORT"]
    assert plan_oneoff(s, "migrate --fake", "p", "ab12").command == ["migrate", "--fake"]
    assert plan_oneoff(spec(kind="image", procfile={}, scale={}, limits={}), "ls $HOME", "p", "x").command \
        == ["sh", "-c", "ls $HOME"]  # no ENTRYPOINT: the shell expands
    with pytest.raises(InvalidSpec, match="cannot be split into words"):
        spec(kind="dockerfile", procfile={"web": "serve 'unclosed"}, scale={}, limits={}, entrypoint=True)
    with pytest.raises(InvalidSpec, match="cannot be split into words"):
        plan_oneoff(s, "echo 'unclosed", "p", "ab12")


def test_specs_from_before_ports_and_entrypoints_load_with_the_defaults():
    data = spec(kind="image", procfile={}, scale={"cmd": 1}, limits={}).as_dict()
    del data["port"], data["entrypoint"]
    old = ReleaseSpec.from_dict(data)
    assert (old.port, old.entrypoint, old.web_type) == (5000, False, "cmd")
    assert plan_process(old, "cmd", 1, "p").command is None and plan_process(old, "cmd", 1, "p").port == 5000
    new = spec(port=8080, entrypoint=True)
    assert ReleaseSpec.from_dict(json.loads(json.dumps(new.as_dict()))) == new


def test_a_web_containers_port_label_says_where_it_is_reached():
    attrs = {
        "Id": "abc123", "Name": "/shop_v3.web.1",
        "Config": {"Labels": {"deis.type": "web", "deis.num": "1", "deis.port": "8080"}},
        "State": {"Status": "running", "Running": True},
        "NetworkSettings": {"Ports": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "32771"}], "9000/tcp": None},
                            "Networks": {"app": {"IPAddress": "10.1.2.3"}}},
    }
    assert from_attrs(attrs, "local", "127.0.0.1").address == "127.0.0.1:32771"
    assert from_attrs(attrs, "local", "127.0.0.1", via_bridge=True).address == "10.1.2.3:8080"
    row = {"Id": "abc", "Names": ["/shop_v3.web.1"], "State": "running", "Created": 1795430000,
           "Labels": attrs["Config"]["Labels"],
           "Ports": [{"IP": "127.0.0.1", "PrivatePort": 8080, "PublicPort": 32771, "Type": "tcp"}]}
    assert from_summary(row, "local", "127.0.0.1").address == "127.0.0.1:32771"


def test_healthcheck_from_mapping():
    s = spec(healthcheck={"path": "/healthz", "status": 204, "initial_delay": 1})
    assert s.healthcheck == HealthCheck(path="/healthz", status=204, initial_delay=1)


@pytest.mark.parametrize("overrides", [
    {"app": "Shop"}, {"app": "shop_1"}, {"version": 0}, {"version": True}, {"image": ""}, {"kind": "lambda"},
    {"scale": {"web": -1}}, {"scale": {"web": 101}}, {"scale": {"clock": 1}}, {"scale": {"Web": 1}},
    {"scale": {"run": 1}}, {"config": {"1BAD": "x"}}, {"config": {"A": "x\0y"}}, {"config": {"A": 1}},
    {"limits": {"web": {"memory": "lots"}}}, {"limits": {"web": {"memory": "1m"}}},
    {"limits": {"web": {"cpu": 0}}}, {"limits": {"web": {"swap": "1g"}}},
    {"healthcheck": {"path": "healthz"}}, {"healthcheck": {"status": 42}}, {"healthcheck": {"retries": 3}},
    {"healthcheck": {"timeout": 0}}, {"procfile": {"web": ""}},
])
def test_invalid_specs_are_rejected(overrides):
    with pytest.raises(InvalidSpec):
        spec(**overrides)


def test_scale_zero_of_unknown_type_is_allowed():
    assert spec(scale={"web": 0, "clock": 0}).desired_scale() == {}


def test_from_attrs_reads_labels_state_and_port():
    attrs = {
        "Id": "abc123", "Name": "/shop_v3.web.2",
        "Config": {"Labels": {"deis.app": "shop", "deis.release": "3", "deis.type": "web", "deis.num": "2"}},
        "State": {"Status": "running", "Running": True, "ExitCode": 0,
                  "StartedAt": "2026-11-23T09:30:00.123456789Z", "FinishedAt": "0001-01-01T00:00:00Z"},
        "NetworkSettings": {"Ports": {"5000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "32770"}]}},
    }
    c = from_attrs(attrs, "local", "127.0.0.1")
    assert (c.name, c.app, c.version, c.type, c.num, c.key) == ("shop_v3.web.2", "shop", 3, "web", 2, "web.2")
    assert c.running and c.address == "127.0.0.1:32770" and c.exit_code is None
    assert c.started_at.microsecond == 123456 and c.finished_at is None
    attrs["State"] = {"Status": "exited", "Running": False, "ExitCode": 137}
    dead = from_attrs(attrs, "local", "127.0.0.1")
    assert not dead.running and dead.address is None and dead.exit_code == 137


def test_from_attrs_via_bridge_reaches_the_container_itself():
    attrs = {
        "Id": "abc123", "Name": "/shop_v3.web.1", "Config": {"Labels": {"deis.type": "web", "deis.num": "1"}},
        "State": {"Status": "running", "Running": True},
        "NetworkSettings": {"Ports": {"5000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "32770"}]},
                            "IPAddress": "", "Networks": {"bridge": {"IPAddress": "172.17.0.5"}}},
    }
    assert from_attrs(attrs, "local", "127.0.0.1", via_bridge=True).address == "172.17.0.5:5000"
    assert from_attrs(attrs, "local", "127.0.0.1").address == "127.0.0.1:32770"
    attrs["NetworkSettings"]["Networks"] = {}  # no bridge address (e.g. another network mode): the published port
    assert from_attrs(attrs, "local", "127.0.0.1", via_bridge=True).address == "127.0.0.1:32770"
    del attrs["NetworkSettings"]["Ports"]  # not a web process: no address at all
    assert from_attrs(attrs, "local", "127.0.0.1", via_bridge=True).address is None



def test_from_summary_reads_a_docker_ps_row_like_inspect():
    row = {"Id": "abc123", "Names": ["/shop_v3.web.2"], "State": "running", "Status": "Up 2 minutes",
           "Created": 1795430000,
           "Labels": {"deis.app": "shop", "deis.release": "3", "deis.type": "web", "deis.num": "2"},
           "Ports": [{"IP": "10.213.9.11", "PrivatePort": 5000, "PublicPort": 32770, "Type": "tcp"}],
           "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.5"}}}}
    c = from_summary(row, "h1", "10.213.9.11")
    assert (c.name, c.app, c.version, c.type, c.key, c.host) == ("shop_v3.web.2", "shop", 3, "web", "web.2", "h1")
    assert c.running and c.address == "10.213.9.11:32770" and c.exit_code is None
    assert c.started_at.timestamp() == 1795430000 and c.finished_at is None
    assert from_summary(row, "local", "127.0.0.1", via_bridge=True).address == "172.17.0.5:5000"
    worker = from_summary({**row, "Ports": [], "Labels": {**row["Labels"], "deis.type": "worker"}}, "h1", "x")
    assert worker.address is None and worker.type == "worker"

def test_spec_round_trips_through_plain_data():
    original = spec(healthcheck={"path": "/health", "interval": 0.2}, domains=["www.shop.test"],
                    routing={"max_body_size": "10m"})
    data = original.as_dict()
    assert data["healthcheck"]["path"] == "/health" and data["domains"] == ["www.shop.test"]
    assert ReleaseSpec.from_dict(json.loads(json.dumps(data))) == original


def test_hardening_is_validated():
    for bad in ({"memory": "lots"}, {"memory": "1m"}, {"pids": 0}, {"log_max_size": "big"}, {"log_max_files": 0}):
        with pytest.raises(InvalidSpec):
            Hardening(**bad)
    assert Hardening().log_options == {"max-size": "10m", "max-file": "3"}


def test_spec_refuses_with_the_apis_words_and_takes_what_the_api_takes():
    from deiscore import validation
    from deiscore.errors import InvalidInput

    with pytest.raises(InvalidInput) as api:
        validation.memory("1m", "web")
    with pytest.raises(InvalidSpec) as refused:
        spec(limits={"web": {"memory": "1m"}})
    assert str(refused.value) == api.value.detail
    with pytest.raises(InvalidSpec) as refused:
        spec(config={"SECRET": "hunter2\0"})
    assert "hunter2" not in str(refused.value)
    # deis limits:set run=... limits one-off containers: the API takes it, so the spec does too
    assert spec(limits={"run": {"memory": validation.memory("64m"), "cpu": validation.cpu("0.5")}})


APP_JSON = """{
  // Dokku's format: checks per process type
  "healthchecks": {
    "web": [{"type": "startup", "name": "root", "path": "/", "content": "ready", "attempts": 2, "wait": 0.5},
            {"type": "readiness", "path": "/ready", "initialDelay": 1},
            {"type": "liveness", "name": "alive", "path": "/healthz", "timeout": 2}],
    "worker": [{"type": "startup", "uptime": 7}]
  }
}"""


def test_app_json_checks_become_the_specs_checks_with_dokkus_defaults():
    checks = appjson.normalize(appjson.parse(APP_JSON))["healthchecks"]
    s = spec(checks=checks)
    root, ready, alive = s.checks["web"]
    assert root == Check(type="startup", name="root", path="/", content="ready", attempts=2, wait=0.5)
    assert (ready.name, ready.initial_delay, ready.attempts, ready.wait, ready.timeout) == ("web check 2", 1, 3, 5, 5)
    assert s.checks_for("web", "startup", "readiness") == (root, ready)
    assert s.checks_for("web", "liveness") == (alive,)
    assert s.checks_for("clock") == ()
    # the start check: app.json's uptime for its type; the platform's for other types but web
    assert s.start_check("worker", 3) == 7 and s.start_check("web", 3) == 0
    assert spec().start_check("worker", 3) == 3
    web_uptime = spec(checks={"web": [{"type": "startup", "name": "up", "uptime": 4}]})
    assert web_uptime.start_check("web", 3) == 4
    data = json.loads(json.dumps(s.as_dict()))
    assert data["checks"]["web"][0]["content"] == "ready"
    assert ReleaseSpec.from_dict(data) == s
    # a spec stored before app.json checks existed loads with none
    del data["checks"]
    assert ReleaseSpec.from_dict(data).checks == {}


def test_an_images_cmd_web_type_takes_the_web_checks():
    s = spec(kind="image", procfile={}, scale={"cmd": 1}, limits={},
             checks={"web": [{"type": "startup", "name": "root", "path": "/"}]})
    assert s.web_type == "cmd" and [c.name for c in s.checks_for("cmd")] == ["root"]


@pytest.mark.parametrize("checks", [
    {"web": [{"type": "nope"}]}, {"web": [{"path": "health"}]}, {"web": [{"path": "/a b"}]},
    {"web": [{"content": "x"}]}, {"web": [{"path": "/", "content": ""}]}, {"web": [{"attempts": 0}]},
    {"web": [{"attempts": 1.5}]}, {"web": [{"attempts": True}]}, {"web": [{"wait": -1}]},
    {"web": [{"timeout": 0}]}, {"web": [{"initial_delay": 301}]}, {"web": [{"uptime": "3"}]},
    {"web": [{"type": "liveness"}]}, {"web": [{"retries": 3}]}, {"web": [{"name": ""}]},
    {"worker": [{"path": "/"}]}, {"Web": []}, {"web": {"path": "/"}}, {"web": "startup"}, {"web": ["/"]},
    [{"path": "/"}],
])
def test_invalid_checks_are_refused(checks):
    with pytest.raises(InvalidSpec):
        spec(checks=checks)
