"""API benchmark: requests/s and p50/p99 latency for list apps, config:set and releases.

Starts the controller exactly as ``deisctl up`` does (gunicorn, SQLite in a temp DEIS_HOME), then
drives each call with N concurrent keep-alive clients for a fixed number of requests, several
rounds, and prints the median of each figure over the rounds. Besides latency it prints the
controller's CPU time per request (its whole process tree, from /proc), which stays meaningful
when other work on the machine inflates latencies; the load average is printed for the same reason.

Run: python bench/bench_api.py [--clients 10] [--requests 2000] [--rounds 3]
     [--gunicorn-args "--workers 2 --threads 8"]   (appended: later flags win)
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import shlex
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from controller import db  # noqa: E402
from deisctl.components import COMPONENTS  # noqa: E402
from deiscore.processes import free_port, spawn, stop_pid, wait_for  # noqa: E402
from deiscore.settings import load  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


class Client:
    """A lean keep-alive HTTP client (http.client), so the load generator takes little of the CPU it measures."""

    def __init__(self, port: int, token: str | None = None):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Content-Type": "application/json"} | ({"Authorization": f"token {token}"} if token else {})

    def call(self, method: str, path: str, body=None) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        try:
            self.conn.request(method, f"/v1{path}", body=data, headers=self.headers)
            response = self.conn.getresponse()
        except (ConnectionError, http.client.HTTPException):  # the server closed an idle connection
            self.conn.close()
            self.conn.request(method, f"/v1{path}", body=data, headers=self.headers)
            response = self.conn.getresponse()
        return response.status, response.read()


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its children (gunicorn's master and workers)."""
    def stat(p) -> list[str]:
        return Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()

    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = stat(entry.name)
            if entry.name == str(pid) or int(fields[1]) == pid:
                total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue  # the process went away while we looked
    return total / TICKS


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def drive(call, port: int, token: str, clients: int, total: int, server_pid: int) -> dict:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    per_client = total // clients

    def worker(index: int):
        nonlocal errors
        client = Client(port, token)
        mine, bad = [], 0
        for i in range(per_client):
            t0 = time.perf_counter()
            ok = call(client, index, i)
            mine.append(time.perf_counter() - t0)
            bad += not ok
        with lock:
            latencies.extend(mine)
            errors += bad

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    cpu0, start = tree_cpu_seconds(server_pid), time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed, cpu = time.perf_counter() - start, tree_cpu_seconds(server_pid) - cpu0
    return {"rps": len(latencies) / elapsed, "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000, "cpu_ms": cpu / len(latencies) * 1000, "errors": errors}


CALLS = {
    "apps:list": lambda c, _client, _i: c.call("GET", "/apps")[0] == 200,
    # each client writes its own app: the writers contend for the database's write lock
    "config:set": lambda c, client, i: c.call("POST", f"/apps/bench-{client}/config",
                                              {"values": {"KEY": f"value-{i}"}})[0] == 201,
    "releases": lambda c, client, _i: c.call("GET", f"/apps/bench-{client}/releases")[0] == 200,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--requests", type=int, default=2000, help="per call and round")
    parser.add_argument("--rounds", type=int, default=3, help="medians over this many rounds")
    parser.add_argument("--database-url", default=None, help="default: SQLite under a temp DEIS_HOME")
    parser.add_argument("--gunicorn-args", default="", help="extra gunicorn flags, appended to deisctl's")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as home:
        port = free_port()
        env = {**os.environ, "DEIS_HOME": home, "DEIS_CONTROLLER_PORT": str(port)}
        if args.database_url:
            env["DEIS_DATABASE_URL"] = args.database_url
        settings = load(env)
        db.upgrade(settings.database_url)  # as `deisctl up` does before the controller starts
        controller = next(c for c in COMPONENTS if c.name == "controller")
        argv = controller.argv(settings)
        argv[-1:-1] = shlex.split(args.gunicorn_args)  # before the app module; gunicorn takes the last flag
        proc = spawn(argv, Path(home) / "controller.log", env=env)
        try:
            wait_for(lambda: controller.answers(settings), 30, "controller", process=proc)
            anonymous = Client(port)
            anonymous.call("POST", "/auth/register", {"username": "bench", "password": "benchpass1"})
            status, body = anonymous.call("POST", "/auth/login", {"username": "bench", "password": "benchpass1"})
            token = json.loads(body)["token"]
            setup = Client(port, token)
            for n in range(max(args.clients, 20)):
                assert setup.call("POST", "/apps", {"id": f"bench-{n}"})[0] == 201

            print(f"controller: {' '.join(argv[2:])}")
            print(f"database: {settings.database_url.split(':')[0]}; {args.clients} concurrent clients, "
                  f"{args.requests} requests per call, median of {args.rounds} rounds; "
                  f"load average at start {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
            print(f"{'call':<12}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'cpu ms/req':>12}{'errors':>8}   p99 per round")
            for name, call in CALLS.items():
                rounds = [drive(call, port, token, args.clients, args.requests, proc.pid) for _ in range(args.rounds)]
                med = {k: statistics.median(r[k] for r in rounds) for k in ("rps", "p50_ms", "p99_ms", "cpu_ms")}
                per_round = " ".join(f"{r['p99_ms']:.0f}" for r in rounds)
                print(f"{name:<12}{med['rps']:>8.0f}{med['p50_ms']:>9.1f}{med['p99_ms']:>9.1f}{med['cpu_ms']:>12.2f}"
                      f"{sum(r['errors'] for r in rounds):>8}   {per_round}")
            print(f"load average at end {os.getloadavg()[0]:.1f}")
        except Exception:
            print(f"--- controller log:\n{(Path(home) / 'controller.log').read_text()[-3000:]}", file=sys.stderr)
            raise
        finally:
            stop_pid(proc.pid)


if __name__ == "__main__":
    main()
