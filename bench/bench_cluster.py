"""Multi-host scheduling on a 3-host namespace cluster, through a whole platform (``deisctl up`` with
DEIS_LOCAL_HOST=off, ``deisctl cluster up --hosts 3``), driven with the real ``deis`` CLI.

Prints medians of:
- deploy time of web=9 (``deis scale web=0`` then ``web=9``, until the command returns with all nine
  healthy behind the router) across 3 hosts, then the same on 1 host (after ``hosts:remove`` of two);
- time from host loss (its link cut and its engine stopped) to full capacity restored (all web
  processes up on the remaining hosts), with the failed requests through the router meanwhile.

    python bench/bench_cluster.py [--runs 3]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deisctl import cluster  # noqa: E402
from tests.e2e.conftest import Load, running_platform  # noqa: E402
from tests.e2e.test_cluster_platform import processes, wait_until  # noqa: E402


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def scale_times(p, work, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        p.deis("scale", "web=0", cwd=work).ok()
        times.append(timed(lambda: p.deis("scale", "web=9", cwd=work).ok()))
        assert len([x for x in processes(p, work) if x[1] == "up"]) == 9
    return times


def host_loss(p, work, name, host_name: str) -> tuple[float, int, int]:
    _, hosts = cluster.load(p.home)
    lost = next(h for h in hosts if h.name == host_name)
    p.deis("scale", "web=3", cwd=work).ok()
    with Load(p, name) as load:
        time.sleep(0.5)
        began = time.monotonic()
        subprocess.run(["ip", "link", "set", lost.veth, "down"], check=True)
        subprocess.run(["kill", (Path(lost.run) / "dockerd.pid").read_text().strip()], check=True)
        wait_until(lambda: len([x for x in processes(p, work) if x[1] == "up" and x[2] != host_name]) == 3, 90)
        seconds = time.monotonic() - began
    subprocess.run(["ip", "link", "set", lost.veth, "up"], check=True)
    p.deisctl("cluster", "up", "--hosts", "3").ok()
    return seconds, load.ok, load.failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    with running_platform(root, {"DEIS_LOCAL_HOST": "off", "DEIS_CLUSTER_SUBNET": "10.213.50.0/24"}) as p:
        try:
            p.deisctl("cluster", "up", "--hosts", "3").ok()
            work = p.checkout("python-web")
            name = p.create_app(work)
            push = p.push(work)
            assert push.returncode == 0, push.output

            losses = [host_loss(p, work, name, f"h{2 + i % 2}") for i in range(args.runs)]
            three = scale_times(p, work, args.runs)
            p.deis("scale", "web=0", cwd=work).ok()
            p.deis("hosts:remove", "h2").ok()
            p.deis("hosts:remove", "h3").ok()
            one = scale_times(p, work, args.runs)
        finally:
            p.deisctl("cluster", "down")
    print(f"deploy of web=9 (scale 0->9 until all healthy and routed), median of {args.runs}:")
    print(f"  across 3 hosts  {statistics.median(three):6.2f} s   runs {', '.join(f'{t:.2f}' for t in three)}")
    print(f"  on 1 host       {statistics.median(one):6.2f} s   runs {', '.join(f'{t:.2f}' for t in one)}")
    print(f"  ratio 3 hosts / 1 host: {statistics.median(three) / statistics.median(one):.2f}x")
    restored = [s for s, _, _ in losses]
    print(f"host loss -> full capacity restored (web=3), median of {args.runs}: {statistics.median(restored):.1f} s "
          f"(target <= 30 s); runs {', '.join(f'{s:.1f}' for s in restored)}")
    print(f"  requests through the router meanwhile: {sum(ok for _, ok, _ in losses)} ok, "
          f"{sum(failed for _, _, failed in losses)} failed")


if __name__ == "__main__":
    main()
