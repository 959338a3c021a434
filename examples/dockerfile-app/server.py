"""A tiny HTTP server for the Dockerfile sample: answers with $GREETING on $PORT."""
import os
from http.server import BaseHTTPRequestHandler, HTTPServer


class Greeting(BaseHTTPRequestHandler):
    def do_GET(self):
        body = (os.environ.get("GREETING", "hello") + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    HTTPServer(("0.0.0.0", int(os.environ.get("PORT", "5000"))), Greeting).serve_forever()
