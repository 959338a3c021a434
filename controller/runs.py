"""``deis run``: one-off processes of an app's serving release, attached over a WebSocket or detached.

``GET /v1/apps/<app>/run/attach`` (WebSocket). The handshake is authenticated like every request
(``Authorization: token ...``) and authorized per app; a refusal (401, 404, 409 when the app has no
build) is an ordinary HTTP answer with ``{"detail": "..."}``, before any upgrade. Then:

- client, first: a JSON text message ``{"command": "...", "tty": false, "cols": 80, "rows": 24}``
  (``command`` a non-empty string; ``tty`` a boolean, default false; ``cols``/``rows`` whole numbers of
  1 to 4096, required with a TTY). Anything else gets ``{"error": "..."}`` and the socket closes,
  nothing started.
- client, then: binary messages are stdin bytes; JSON text messages are controls:
  ``{"resize": [cols, rows]}``, ``{"eof": true}`` (closes the process's stdin) and
  ``{"signal": "INT"}`` (one of :data:`scheduler.session.SIGNALS`, delivered to the process group).
  A bad control ends the run (the container is killed) with ``{"error": "..."}``. Closing the socket
  kills the process.
- server: binary messages whose first byte tags the stream (1 stdout, 2 stderr; with a TTY all is 1)
  followed by the bytes as they came; last, one JSON text message, ``{"exit_code": N}`` or
  ``{"error": "..."}``, then the socket closes. The container is always removed.

``POST /v1/apps/<app>/run/detached`` ``{"command": "..."}``: the command runs in the background; its
output goes to ``deis logs`` as ``app[run.<num>]``; it is removed after ``DEIS_RUN_DETACH_TTL`` seconds.
Answers 201 ``{"name", "source", "release", "expires"}``.
"""
from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask import Blueprint, g, request
from flask_sock import Sock

from controller import releases
from controller.access import app_for_user, body, session, settings
from controller.containers import _deployer
from controller.errors import BadRequest, Conflict
from controller.scheduling import release_spec
from scheduler.errors import SchedulerError
from scheduler.session import SIGNALS

log = logging.getLogger(__name__)
bp = Blueprint("runs", __name__)
sock = Sock()  # routes only; controller.app sets it up on the app
MAX_COMMAND = 65536  # characters of a command line
MAX_SIZE = 4096  # columns or rows of a TTY
START_TIMEOUT = 30.0  # seconds the client has to send its start message
MAX_MESSAGE = 1 << 20  # bytes of one message from the client (stdin comes in chunks far smaller)


class ProtocolError(ValueError):
    """A message of the client that the protocol does not allow; the text says why."""


@dataclass(frozen=True)
class Start:
    command: str
    tty: bool = False
    cols: int | None = None
    rows: int | None = None


def check_command(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ProtocolError("command must be a non-empty string, e.g. \"python manage.py migrate\"")
    if "\x00" in value:
        raise ProtocolError("command must not contain NUL characters")
    if len(value) > MAX_COMMAND:
        raise ProtocolError(f"command is too long: at most {MAX_COMMAND} characters")
    return value


def _size(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SIZE:
        raise ProtocolError(f"{what} must be a whole number from 1 to {MAX_SIZE}")
    return value


def _json_object(message, what: str) -> dict:
    if not isinstance(message, str):
        raise ProtocolError(f"{what} must be a JSON text message")
    try:
        data = json.loads(message)
    except ValueError as exc:
        raise ProtocolError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"{what} must be a JSON object")
    return data


def parse_start(message) -> Start:
    """The client's first message (``None``: it sent none in time)."""
    if message is None:
        raise ProtocolError(f"no start message within {START_TIMEOUT:g}s: send "
                            '{"command": "...", "tty": false} first')
    data = _json_object(message, "the first message")
    unknown = set(data) - {"command", "tty", "cols", "rows"}
    if unknown:
        raise ProtocolError(f"unknown field(s) in the start message: {', '.join(sorted(unknown))}")
    command = check_command(data.get("command"))
    tty = data.get("tty", False)
    if not isinstance(tty, bool):
        raise ProtocolError("tty must be true or false")
    if not tty and data.get("cols") is None and data.get("rows") is None:
        return Start(command)
    return Start(command, tty, _size(data.get("cols"), "cols"), _size(data.get("rows"), "rows"))


def parse_control(message) -> tuple[str, object]:
    """A control message: ``("resize", (cols, rows))``, ``("eof", None)`` or ``("signal", "INT")``."""
    data = _json_object(message, "a control message")
    if len(data) != 1:
        raise ProtocolError('a control message has one field: "resize", "eof" or "signal"')
    (kind, value), = data.items()
    if kind == "resize":
        if not isinstance(value, list) or len(value) != 2:
            raise ProtocolError("resize must be [cols, rows]")
        return kind, (_size(value[0], "cols"), _size(value[1], "rows"))
    if kind == "eof":
        if value is not True:
            raise ProtocolError("eof must be true")
        return kind, None
    if kind == "signal":
        if not isinstance(value, str) or value.upper().removeprefix("SIG") not in SIGNALS:
            raise ProtocolError(f"signal must be one of {', '.join(sorted(SIGNALS))}")
        return kind, value.upper().removeprefix("SIG")
    raise ProtocolError(f"unknown control {kind!r}: expected resize, eof or signal")


@dataclass
class Target:
    app: str
    version: int
    spec: object  # ReleaseSpec


def _target(name: str) -> Target:
    """The app (if the user may use it) and the spec of its serving release; 409 without a build."""
    app = app_for_user(name)
    _deployer()
    db = session()
    release = releases.serving(db, app)
    if release is None or release.build is None:
        raise Conflict(f"{app.name} has no build yet: push code or pull an image first")
    target = Target(app.name, release.version, release_spec(db, app, release))
    db.close()  # a one-off may run for hours: hold no database transaction (nor a write lock) meanwhile
    return target


@bp.before_request
def authorize_attach():
    # A WebSocket's handler runs after the upgrade: refusals must be answered before it, as plain HTTP.
    if request.endpoint == "runs.attach":
        g.run_target = _target(request.view_args["name"])


@sock.route("/apps/<name>/run/attach", bp=bp)
def attach(ws, name):
    target: Target = g.run_target
    deployer = _deployer()
    try:
        start = parse_start(ws.receive(timeout=START_TIMEOUT))
    except ProtocolError as exc:
        ws.send(json.dumps({"error": str(exc)}))
        return
    deployer.events.record(target.app, f"run {start.command!r} on v{target.version}")
    try:
        oneoff = deployer.scheduler.session(target.spec, start.command, tty=start.tty,
                                            size=(start.cols, start.rows) if start.tty else None,
                                            ttl=settings().run_detach_ttl)
    except SchedulerError as exc:
        log.warning("run on %s failed to start: %s", target.app, exc)
        ws.send(json.dumps({"error": str(exc)}))
        return
    with oneoff:
        problem: list[str] = []
        threading.Thread(target=_forward_input, args=(ws, oneoff, problem), daemon=True,
                         name=f"run-input-{oneoff.name}").start()
        for stream, data in oneoff.output():
            ws.send(bytes([stream]) + data)
        code = oneoff.wait()
        ws.send(json.dumps({"error": problem[0]} if problem else {"exit_code": code}))


def _forward_input(ws, oneoff, problem: list[str]) -> None:
    """Client to process until the client goes (which kills the process) or a bad control ends the run."""
    from simple_websocket import ConnectionClosed

    try:
        while True:
            message = ws.receive()
            if isinstance(message, bytes):
                oneoff.write(message)
                continue
            kind, value = parse_control(message)
            if kind == "resize":
                oneoff.resize(*value)
            elif kind == "eof":
                oneoff.close_stdin()
            else:
                oneoff.signal(value)
    except ConnectionClosed:
        oneoff.kill()
    except ProtocolError as exc:
        problem.append(f"{exc}; the process was killed")
        oneoff.kill()
    except SchedulerError as exc:
        log.warning("%s: %s", oneoff.name, exc)
        problem.append(str(exc))
        oneoff.kill()


@bp.post("/apps/<name>/run/detached")
def detached(name):
    """Start a one-off in the background (``deis run --detach``)."""
    try:
        command = check_command(body().get("command"))
    except ProtocolError as exc:
        raise BadRequest(str(exc)) from None
    target = _target(name)
    deployer, ttl = _deployer(), settings().run_detach_ttl
    container = deployer.scheduler.detach(target.spec, command, ttl=ttl)
    deployer.events.record(target.app, f"run --detach {command!r} on v{target.version}: {container.name}")
    expires = datetime.now(timezone.utc) + timedelta(seconds=ttl)
    return {"name": container.name, "source": f"run.{container.num}", "release": target.version,
            "expires": expires.isoformat(timespec="seconds")}, 201
