"""``deis run``'s endpoints (controller.runs), fast: the protocol's message parsing, then the glue over a
real WebSocket (the controller served by werkzeug in a thread, the CLI's websocket-client) with the
in-memory twin as the scheduler: refusals before the upgrade, a bad start message, stdin, controls and
output frames, detached runs."""
from __future__ import annotations

import json
import threading

import pytest
import requests
import websocket
from sqlalchemy import select
from werkzeug.serving import make_server

from controller import db
from controller.app import create_app
from controller.events import EventLog
from controller.models import App
from controller.releases import latest
from controller.runs import MAX_SIZE, ProtocolError, Start, parse_control, parse_start
from controller.scheduling import Deployer, release_spec
from deiscore import settings as platform_settings
from scheduler.memory import MemoryScheduler


def test_start_message():
    assert parse_start('{"command": "bash"}') == Start("bash")
    assert parse_start('{"command": "ls -l", "tty": false}') == Start("ls -l")
    assert parse_start('{"command": "bash", "tty": true, "cols": 80, "rows": 24}') == Start("bash", True, 80, 24)
    bad = [None, b'{"command": "x"}', "not json", "[]", '"bash"', '{"command": ""}', '{"command": " "}',
           '{"command": 1}', '{"command": null}', '{"command": "a\\u0000b"}', '{"command": "x", "tty": 1}',
           '{"command": "x", "tty": "yes"}', '{"command": "x", "tty": true}', '{"command": "x", "tty": true, "cols": 80}',
           '{"command": "x", "tty": true, "cols": 0, "rows": 24}', '{"command": "x", "tty": true, "cols": 80.5, "rows": 1}',
           f'{{"command": "x", "tty": true, "cols": {MAX_SIZE + 1}, "rows": 1}}',
           '{"command": "x", "tty": true, "cols": true, "rows": 1}', '{"command": "x", "env": {}}',
           json.dumps({"command": "x" * 70000})]
    for message in bad:
        with pytest.raises(ProtocolError) as caught:
            parse_start(message)
        assert str(caught.value), message


def test_control_messages():
    assert parse_control('{"resize": [120, 40]}') == ("resize", (120, 40))
    assert parse_control('{"eof": true}') == ("eof", None)
    assert parse_control('{"signal": "INT"}') == ("signal", "INT")
    assert parse_control('{"signal": "sigterm"}') == ("signal", "TERM")
    bad = ['{"resize": [1]}', '{"resize": "80x24"}', '{"resize": [0, 24]}', '{"eof": false}', '{"eof": 1}',
           '{"signal": "NOPE"}', '{"signal": 2}', '{"signal": "SEGV"}', '{"eof": true, "signal": "INT"}', "{}",
           '{"kill": true}', "garbage", b"\x00"]
    for message in bad:
        with pytest.raises(ProtocolError):
            parse_control(message)


class Controller:
    """The controller served over real HTTP by werkzeug (its WebSockets work there too), the twin scheduling."""

    def __init__(self, home):
        settings = platform_settings.load({"DEIS_HOME": str(home), "DEIS_SCHEDULER": "off"})
        db.upgrade(settings.database_url)
        self.flask = create_app(settings)
        self.scheduler = MemoryScheduler()
        self.events = EventLog(home / "events")
        self.flask.extensions["deis_deployer"] = Deployer(self.scheduler, self.events)
        self.server = make_server("127.0.0.1", 0, self.flask, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.http = requests.Session()
        assert self.http.post(f"{self.url}/v1/auth/register", json={
            "username": "ada", "password": "s3cret-pass", "email": "ada@example.com"}).status_code == 201
        token = self.http.post(f"{self.url}/v1/auth/login",
                               json={"username": "ada", "password": "s3cret-pass"}).json()["token"]
        self.token = token
        self.http.headers["Authorization"] = f"token {token}"

    def new_app(self, name: str, build: bool = True) -> str:
        assert self.http.post(f"{self.url}/v1/apps", json={"id": name}).status_code == 201
        if build:
            r = self.http.post(f"{self.url}/v1/apps/{name}/builds",
                               json={"image": "registry.example.com/web:1", "procfile": {"web": "serve"}})
            assert r.status_code == 201, r.text
            with self.flask.extensions["deis_sessions"]() as rows:  # what the deploy job does
                app = rows.scalar(select(App).where(App.name == name))
                release = latest(rows, app)
                self.scheduler.deploy(release_spec(rows, app, release))
                release.status = "succeeded"
                rows.commit()
        return name

    def attach(self, app: str, token: str | None = None) -> websocket.WebSocket:
        headers = [f"Authorization: token {token or self.token}"]
        return websocket.create_connection(f"ws://127.0.0.1:{self.server.server_port}/v1/apps/{app}/run/attach",
                                           header=headers, timeout=10)


@pytest.fixture
def controller(tmp_path):
    ctl = Controller(tmp_path)
    yield ctl
    ctl.server.shutdown()


def refused(ctl, app, token=None) -> tuple[int, str]:
    with pytest.raises(websocket.WebSocketBadStatusException) as caught:
        ctl.attach(app, token)
    return caught.value.status_code, json.loads(caught.value.resp_body)["detail"]


def frames(ws) -> tuple[list[bytes], dict]:
    """The output frames, then the final JSON message."""
    output = []
    while True:
        opcode, data = ws.recv_data()
        if opcode == websocket.ABNF.OPCODE_BINARY:
            output.append(data)
        else:
            return output, json.loads(data)


def test_refused_before_the_upgrade(controller):
    controller.new_app("nobuild", build=False)
    assert refused(controller, "nope") == (404, "app 'nope' not found")
    assert refused(controller, "nope", token="wrong")[0] == 401
    status, detail = refused(controller, "nobuild")
    assert status == 409 and "no build yet" in detail
    assert not [c for c in controller.scheduler.calls if c[0] == "session"]


def test_bad_start_message_starts_nothing(controller):
    app = controller.new_app("web")
    for first, says in [('{"command": ""}', "non-empty string"), ("nonsense", "not valid JSON"),
                        ('{"command": "x", "tty": true}', "cols must be")]:
        ws = controller.attach(app)
        ws.send(first)
        output, result = frames(ws)
        assert output == [] and set(result) == {"error"} and says in result["error"], result
        ws.close()
    ws = controller.attach(app)
    ws.send_bytes(b"stdin before the start")
    output, result = frames(ws)
    assert output == [] and "JSON text message" in result["error"]
    assert not [c for c in controller.scheduler.calls if c[0] == "session"]


def test_session_streams_both_ways(controller):
    app = controller.new_app("web")
    controller.scheduler.run_result = (b"hello", 3)
    ws = controller.attach(app)
    ws.send(json.dumps({"command": "bash", "tty": True, "cols": 90, "rows": 30}))
    ws.send_bytes(b"typed\r")
    ws.send(json.dumps({"resize": [100, 40]}))
    ws.send(json.dumps({"signal": "INT"}))
    ws.send(json.dumps({"eof": True}))
    output, result = frames(ws)
    assert output == [b"\x01hello"] and result == {"exit_code": 3}
    session = controller.scheduler.sessions[-1]
    assert session.tty and session.sizes[0] == (90, 30)
    ws.close()
    assert ("session", app, "bash") in controller.scheduler.calls
    assert session.closed
    assert any("run 'bash' on v2" in line for line in controller.events.tail(app, 10))


def test_detached(controller):
    app = controller.new_app("web")
    for body in [{}, {"command": ""}, {"command": 5}, {"command": "a\x00b"}, {"cmd": "true"}]:
        r = controller.http.post(f"{controller.url}/v1/apps/{app}/run/detached", json=body)
        assert r.status_code == 400 and set(r.json()) == {"detail"}, r.text
    assert controller.http.post(f"{controller.url}/v1/apps/nope/run/detached",
                                json={"command": "true"}).status_code == 404
    r = controller.http.post(f"{controller.url}/v1/apps/{app}/run/detached", json={"command": "echo hi"})
    assert r.status_code == 201, r.text
    started = r.json()
    assert started["name"].startswith(f"{app}_v2.run.") and started["source"].startswith("run.")
    assert [c.name for c in controller.scheduler.containers[app] if c.type == "run"] == [started["name"]]
    assert any("run --detach 'echo hi'" in line for line in controller.events.tail(app, 10))
