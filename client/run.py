"""``deis run``: a one-off process of the app's current release, attached to this terminal or detached.

Attached runs talk to the controller over a WebSocket (the protocol: :mod:`controller.runs`). When
stdin and stdout are terminals the process gets a TTY: this terminal goes raw (restored on exit), its
size follows SIGWINCH, and Ctrl-C is just a byte for the remote TTY. Otherwise stdin is piped through
(its end closes the process's stdin), stdout and stderr stay apart and binary-safe, and Ctrl-C sends
SIGINT to the process (a second one kills it). The CLI exits with the command's exit code.
"""
from __future__ import annotations

import json
import os
import shlex
import signal
import sys
import threading
from urllib.parse import quote

import click
import websocket

from client.base import api, app_option, cli, resolve_app
from client.errors import ClientError

STDOUT, STDERR = 1, 2  # the tags of the controller's output frames
READ_SIZE = 65536
CONNECT_TIMEOUT = 10


@cli.command("run", context_settings={"ignore_unknown_options": True})
@click.option("--detach", is_flag=True,
              help="run in the background: output in 'deis logs'; removed after DEIS_RUN_DETACH_TTL (a day)")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@app_option
def run(command, app, detach):
    """Run a one-off command in a container of the current release: deis run -- python manage.py migrate

    With a terminal, 'deis run bash' is an interactive shell; otherwise stdin is piped through."""
    name = resolve_app(app)
    # One argument is a command line as typed ('echo $GREETING'); several keep their boundaries.
    line = command[0] if len(command) == 1 else shlex.join(command)
    if not line.strip():
        raise ClientError("no command given: deis run -- COMMAND")
    path = f"/apps/{quote(name, safe='')}/run"
    if detach:
        started = api().post(f"{path}/detached", {"command": line})
        click.echo(f"Running {line!r} on {name} detached as {started['name']}")
        click.echo(f"Its output: deis logs -a {name} (lines of {name}[{started['source']}]); "
                   f"removed at {started['expires']}")
        return
    sys.exit(Attached(name, path, line).run())


class Attached:
    """One attached run: connect, stream both ways, return the exit code."""

    def __init__(self, app: str, path: str, line: str):
        self.app, self.path, self.line = app, path, line
        self.tty = sys.stdin.isatty() and sys.stdout.isatty()
        self.ws = None
        self.interrupts = 0

    def connect(self) -> websocket.WebSocket:
        client = api()
        url = "ws" + client.url.removeprefix("http") + f"/v1{self.path}/attach"
        headers = [f"Authorization: {client.session.headers['Authorization']}"]
        try:
            ws = websocket.create_connection(url, header=headers, timeout=CONNECT_TIMEOUT, enable_multithread=True)
        except websocket.WebSocketBadStatusException as exc:
            raise ClientError(_detail(exc)) from None
        except (OSError, websocket.WebSocketException) as exc:
            raise ClientError(f"cannot reach the controller at {client.url}: is the platform up? ({exc})") from None
        ws.settimeout(None)
        return ws

    def run(self) -> int:
        self.ws = self.connect()
        start = {"command": self.line, "tty": self.tty}
        if self.tty:
            start["cols"], start["rows"] = os.get_terminal_size(sys.stdout.fileno())
        self._send(json.dumps(start))
        if self.tty:
            return self._with_tty()
        previous = signal.signal(signal.SIGINT, self._interrupt)
        try:
            self._pump_stdin()
            return self._receive()
        finally:
            signal.signal(signal.SIGINT, previous)

    def _with_tty(self) -> int:
        import termios
        import tty

        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
        previous = signal.signal(signal.SIGWINCH, self._resized)
        terminated = signal.signal(signal.SIGTERM, _exit_on_term)  # so that the terminal is restored
        tty.setraw(fd)
        try:
            self._pump_stdin()
            return self._receive()
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
            signal.signal(signal.SIGWINCH, previous)
            signal.signal(signal.SIGTERM, terminated)

    def _pump_stdin(self) -> None:
        def pump():
            fd = sys.stdin.fileno()
            while True:
                try:
                    data = os.read(fd, READ_SIZE)
                except OSError:
                    data = b""
                if not data:
                    self._send(json.dumps({"eof": True}))
                    return
                if not self._send(data, binary=True):
                    return
        threading.Thread(target=pump, daemon=True, name="stdin").start()

    def _receive(self) -> int:
        outputs = {STDOUT: sys.stdout.buffer, STDERR: sys.stderr.buffer}
        while True:
            try:
                opcode, data = self.ws.recv_data()
            except (OSError, websocket.WebSocketException):
                opcode, data = websocket.ABNF.OPCODE_CLOSE, b""
            if opcode == websocket.ABNF.OPCODE_BINARY and data:
                out = outputs.get(data[0], sys.stdout.buffer)
                out.write(data[1:])
                out.flush()
            elif opcode == websocket.ABNF.OPCODE_TEXT:
                result = json.loads(data)
                if "exit_code" in result:
                    return int(result["exit_code"])
                raise ClientError(result.get("error") or f"unexpected message from the controller: {result}")
            elif opcode == websocket.ABNF.OPCODE_CLOSE:
                raise ClientError("the connection to the controller was lost before the command ended")

    def _send(self, data, binary: bool = False) -> bool:
        try:
            if binary:
                self.ws.send_bytes(data)
            else:
                self.ws.send_text(data)
            return True
        except (OSError, websocket.WebSocketException):
            return False  # the run is over; _receive says how

    def _interrupt(self, signum, frame) -> None:
        # Ctrl-C without a TTY: SIGINT to the process; a second one kills it
        self.interrupts += 1
        self._send(json.dumps({"signal": "INT" if self.interrupts == 1 else "KILL"}))

    def _resized(self, signum, frame) -> None:
        cols, rows = os.get_terminal_size(sys.stdout.fileno())
        self._send(json.dumps({"resize": [cols, rows]}))


def _exit_on_term(signum, frame) -> None:
    sys.exit(128 + signum)


def _detail(exc: websocket.WebSocketBadStatusException) -> str:
    """The controller's ``{"detail"}`` of a refused handshake (401, 404, 409...)."""
    try:
        detail = json.loads(exc.resp_body or b"").get("detail")
    except (ValueError, AttributeError):
        detail = None
    return detail or f"the controller refused the run: {exc.status_code} {exc.status_message or ''}".strip()
