"""API benchmark: requests/s and p50/p99 latency for list apps, config:set and releases.

Starts the controller exactly as ``deisctl up`` does (gunicorn, SQLite in a temp DEIS_HOME),
then drives each call with 10 concurrent keep-alive clients for a fixed number of requests.
Run: python bench/bench_api.py [--clients 10] [--requests 2000] [--workers 4]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from deisctl.components import COMPONENTS  # noqa: E402
from deisctl.processes import free_port, spawn, stop_pid, wait_for  # noqa: E402
from deisctl.settings import load  # noqa: E402


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def drive(name: str, call, clients: int, total: int) -> dict:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    per_client = total // clients

    def worker(index: int):
        nonlocal errors
        session = requests.Session()
        mine, bad = [], 0
        for i in range(per_client):
            t0 = time.perf_counter()
            ok = call(session, index, i)
            mine.append(time.perf_counter() - t0)
            bad += not ok
        with lock:
            latencies.extend(mine)
            errors += bad

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return {"call": name, "requests": len(latencies), "errors": errors, "rps": len(latencies) / elapsed,
            "p50_ms": statistics.median(latencies) * 1000, "p99_ms": percentile(latencies, 99) * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--database-url", default=None, help="default: SQLite under a temp DEIS_HOME")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as home:
        port = free_port()
        env = {**os.environ, "DEIS_HOME": home, "DEIS_CONTROLLER_PORT": str(port)}
        if args.database_url:
            env["DEIS_DATABASE_URL"] = args.database_url
        settings = load(env)
        controller = next(c for c in COMPONENTS if c.name == "controller")
        proc = spawn(controller.argv(settings), Path(home) / "controller.log", env=env)
        try:
            wait_for(lambda: controller.answers(settings), 30, "controller", process=proc)
            url = f"http://127.0.0.1:{port}/v1"
            requests.post(f"{url}/auth/register", json={"username": "bench", "password": "benchpass1"})
            token = requests.post(f"{url}/auth/login", json={"username": "bench", "password": "benchpass1"}).json()["token"]
            headers = {"Authorization": f"token {token}"}
            for n in range(20):
                requests.post(f"{url}/apps", json={"id": f"bench-{n}"}, headers=headers).raise_for_status()

            def list_apps(s, _c, _i):
                return s.get(f"{url}/apps", headers=headers).status_code == 200

            def config_set(s, c, i):  # each client writes its own app: contention on the write lock
                r = s.post(f"{url}/apps/bench-{c}/config", json={"values": {"KEY": f"value-{i}"}}, headers=headers)
                return r.status_code == 201

            def releases(s, c, _i):
                return s.get(f"{url}/apps/bench-{c}/releases", headers=headers).status_code == 200

            print(f"controller: gunicorn, {settings.database_url.split(':')[0]}, "
                  f"{args.clients} concurrent clients, {args.requests} requests per call")
            print(f"{'call':<12}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
            for name, call in (("apps:list", list_apps), ("config:set", config_set), ("releases", releases)):
                r = drive(name, call, args.clients, args.requests)
                print(f"{r['call']:<12}{r['rps']:>10.0f}{r['p50_ms']:>10.1f}{r['p99_ms']:>10.1f}{r['errors']:>8}")
        finally:
            stop_pid(proc.pid)


if __name__ == "__main__":
    main()
