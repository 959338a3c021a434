"""A tiny web app image for scheduler tests and benches, built FROM the stack image.

GET / answers "<MSG> <DEIS_RELEASE>"; /env/NAME echoes a variable; /healthz answers HEALTH_STATUS
(421 when HEALTH_HOST is set and the Host header differs); BOOT_DELAY delays listening; CRASH makes
it exit at boot with code 3.
"""
from __future__ import annotations

import io
import tarfile

IMAGE = "deis-test/echo:latest"

APP = r'''
import http.server, json, os, sys, time
print("booting", os.environ.get("DEIS_RELEASE"), flush=True)
if os.environ.get("CRASH"):
    print("boom: CRASH is set", flush=True)
    sys.exit(3)
time.sleep(float(os.environ.get("BOOT_DELAY", "0")))

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # One write per response: headers and body in separate small writes meet delayed ACKs (40 ms).
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def do_GET(self):
        status = 200
        if self.path == "/healthz":
            status = int(os.environ.get("HEALTH_STATUS", "200"))
            if os.environ.get("HEALTH_HOST", self.headers["Host"]) != self.headers["Host"]:
                status = 421
            body = "health"
        elif self.path.startswith("/env/"):
            body = os.environ.get(self.path[5:], "")
        elif self.path == "/headers":
            body = json.dumps(dict(self.headers))
        else:
            body = f"{os.environ.get('MSG', 'hello')} {os.environ.get('DEIS_RELEASE')}"
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer.request_queue_size = 1024  # load tests open many connections at once
server = http.server.ThreadingHTTPServer(("", int(os.environ["PORT"])), Handler)
server.daemon_threads = True
print("listening on", os.environ["PORT"], flush=True)
server.serve_forever()
'''

DOCKERFILE = 'FROM deis/stack:bookworm\nCOPY app.py /app.py\nCMD ["python3", "-u", "/app.py"]\n'


def build_echo_image(client, tag: str = IMAGE) -> str:
    """Build the image (cached by the engine after the first time) and return its tag."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, text in (("Dockerfile", DOCKERFILE), ("app.py", APP)):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    client.images.build(fileobj=buffer, custom_context=True, tag=tag, rm=True)
    return tag
