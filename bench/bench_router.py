"""Router throughput and p99 latency compared with requests sent straight to the container.

Runs the echo test app in one container, routes it through a real nginx router on a free loopback
port, and drives both paths with wrk (keep-alive, fixed connections), alternating, several runs.
"Direct" is the container's own address on the engine's bridge, which is also where the router
sends requests (DEIS_LOCAL_UPSTREAMS=bridge, the default). Requests to the container's published
loopback port (through the engine's userland proxy) are measured too, for reference.
Prints medians and the ratios the issue sets targets for (throughput >= 0.9x, p99 <= +1 ms).

    python bench/bench_router.py [--runs 5] [--seconds 5] [--connections 20] [--workers N|auto]

The router is the platform's as configured (edge + routing tier, access log on, each tier with half
the cores' worth of workers). Two loads: saturated (``--connections`` keep-alive connections, where
p99 mostly follows throughput) and light (one connection, request after request: the latency the
two proxy hops add to each request).
"""
from __future__ import annotations

import argparse
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import docker  # noqa: E402

from deiscore.processes import free_port, port_answers, spawn, stop_pid, wait_for  # noqa: E402
from router import Router  # noqa: E402
from scheduler import Host, ReleaseSpec, Scheduler  # noqa: E402
from tests.scheduler.echoapp import build_echo_image  # noqa: E402

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, host: str, seconds: int, connections: int, threads: int) -> tuple[float, float]:
    """Return (requests per second, p99 latency in ms)."""
    out = subprocess.run(["wrk", "--latency", f"-t{threads}", f"-c{connections}", f"-d{seconds}s",
                          "-H", f"Host: {host}", url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"\s99%\s+([\d.]+)(us|ms|s)\b", out).groups()
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", out)
    if errors:
        print(f"  wrk reported: {errors.group(0)}")
    return rps, float(value) * UNITS[unit]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--workers", default=None, help="nginx worker_processes of each tier (default: the router's)")
    parser.add_argument("--single-tier", action="store_true",
                        help="no edge: one nginx started directly, as before the edge existed (for comparison)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    client = docker.from_env()
    image = build_echo_image(client)
    platform = f"deis-bench-{secrets.token_hex(4)}"
    with tempfile.TemporaryDirectory() as tmp:
        workers = args.workers if args.workers in (None, "auto") else int(args.workers)
        router = Router(Path(tmp) / "router", free_port(), "127.0.0.1", worker_processes=workers)
        host = Host("local", client, "127.0.0.1", platform, via_bridge=True)
        scheduler = Scheduler([host], router, Path(tmp) / "state", "bench.test")
        single = None
        if args.single_tier:
            router.apply()
            single = spawn(["nginx", "-p", f"{router.prefix}/", "-c", str(router.prefix / "nginx.conf"),
                            "-g", "daemon off;"], router.prefix / "logs" / "master.log")
            wait_for(lambda: port_answers(router.port), 10, "nginx", process=single)
        else:
            router.start()
        try:
            spec = ReleaseSpec(app="bench", version=1, image=image, kind="image", scale={"cmd": 1})
            scheduler.deploy(spec)
            container = host.containers("bench")[0]
            direct_url = f"http://{container.address}/"
            port = client.api.port(container.id, 5000)[0]["HostPort"]
            published_url = f"http://127.0.0.1:{port}/"
            routed_url = f"http://127.0.0.1:{router.port}/"
            wrk(routed_url, "bench.bench.test", 1, args.connections, args.threads)  # warm up
            direct, routed, published, light_direct, light_routed = [], [], [], [], []
            for run in range(args.runs):
                light_direct.append(wrk(direct_url, "bench.bench.test", args.seconds, 1, 1))
                light_routed.append(wrk(routed_url, "bench.bench.test", args.seconds, 1, 1))
                direct.append(wrk(direct_url, "bench.bench.test", args.seconds, args.connections, args.threads))
                routed.append(wrk(routed_url, "bench.bench.test", args.seconds, args.connections, args.threads))
                published.append(wrk(published_url, "bench.bench.test", args.seconds, args.connections,
                                     args.threads))
                print(f"run {run + 1}: direct {direct[-1][0]:.0f} req/s p99 {direct[-1][1]:.2f} ms | "
                      f"router {routed[-1][0]:.0f} req/s p99 {routed[-1][1]:.2f} ms | "
                      f"published port {published[-1][0]:.0f} req/s p99 {published[-1][1]:.2f} ms | "
                      f"1 connection: direct p99 {light_direct[-1][1]:.2f} ms, router {light_routed[-1][1]:.2f} ms")
        finally:
            scheduler.destroy("bench")
            router.stop()
            if single is not None:
                stop_pid(single.pid)
            for c in client.containers.list(all=True, filters={"label": f"deis.platform={platform}"}):
                c.remove(force=True)
    d_rps, r_rps = statistics.median(r for r, _ in direct), statistics.median(r for r, _ in routed)
    d_p99, r_p99 = statistics.median(p for _, p in direct), statistics.median(p for _, p in routed)
    p_rps, p_p99 = statistics.median(r for r, _ in published), statistics.median(p for _, p in published)
    print(f"median direct: {d_rps:.0f} req/s, p99 {d_p99:.2f} ms  (the container's bridge address)")
    print(f"median router: {r_rps:.0f} req/s, p99 {r_p99:.2f} ms")
    print(f"median published port: {p_rps:.0f} req/s, p99 {p_p99:.2f} ms  (through the engine's userland proxy)")
    ld_p99, lr_p99 = statistics.median(p for _, p in light_direct), statistics.median(p for _, p in light_routed)
    print(f"throughput ratio router/direct: {r_rps / d_rps:.2f}x (target >= 0.9x); "
          f"added p99 saturated ({args.connections} connections): {r_p99 - d_p99:+.2f} ms (target <= 1 ms)")
    print(f"one connection: p99 direct {ld_p99:.2f} ms, router {lr_p99:.2f} ms, "
          f"added by the router {lr_p99 - ld_p99:+.2f} ms (target <= 1 ms)")


if __name__ == "__main__":
    main()
