"""A dependency-free web app for the run-flow tests and demos (Python standard library only).

GET /          "<GREETING> from <app> (release vN)"
GET /env/NAME  the value of an environment variable (config is the environment)
GET /healthz   200, or the status in HEALTHZ_STATUS: lets a config change fail its health check
SIGTERM stops accepting, finishes requests in flight, then exits.
"""
import http.server
import os
import signal
import threading


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16  # headers and body in one write

    def do_GET(self):
        status, body = 200, ""
        if self.path == "/healthz":
            status, body = int(os.environ.get("HEALTHZ_STATUS", "200")), "ok\n"
        elif self.path.startswith("/env/"):
            body = os.environ.get(self.path[len("/env/"):], "")
        else:
            body = (f"{os.environ.get('GREETING', 'Hello')} from {os.environ.get('DEIS_APP', 'python-env')} "
                    f"(release {os.environ.get('DEIS_RELEASE', '?')})\n")
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 1024
    daemon_threads = False  # in-flight requests finish before the process exits


def main():
    server = Server(("", int(os.environ.get("PORT", "5000"))), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"listening on {server.server_address[1]}", flush=True)
    server.serve_forever()
    server.server_close()
    print("stopped", flush=True)


if __name__ == "__main__":
    main()
