"""``serve --port N --greeting TEXT``: answers every request with its greeting and the words it was given."""
import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


def main(argv):
    parser = argparse.ArgumentParser(prog="serve.py")
    parser.add_argument("action", choices=["serve"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--greeting", required=True)
    args = parser.parse_args(argv)

    class Echo(BaseHTTPRequestHandler):
        def do_GET(self):
            body = (json.dumps({"greeting": args.greeting, "argv": argv}) + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    HTTPServer(("0.0.0.0", args.port), Echo).serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
