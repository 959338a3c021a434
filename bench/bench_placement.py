"""Placement time of the pure spread function on simulated clusters (target: <= 100 ms for 10,000
processes over 1,000 hosts). Prints medians over several runs.

    python bench/bench_placement.py
"""
from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scheduler.spread import Demand, HostInfo, spread  # noqa: E402

G, M = 1024 ** 3, 1024 ** 2
RUNS = 7


def cluster(n_hosts: int, tagged: bool = False) -> list[HostInfo]:
    return [HostInfo(f"h{i:04d}", 16 * G, {"zone": f"z{i % 4}"} if tagged else {}) for i in range(n_hosts)]


def demands(n_apps: int, tagged: bool = False) -> list[Demand]:
    rng = random.Random(1)
    return [Demand(f"app{a:04d}", ptype, count, memory=rng.choice([0, 256 * M, 512 * M]),
                   tags={"zone": f"z{a % 4}"} if tagged and a % 2 else {})
            for a in range(n_apps) for ptype, count in (("web", 8), ("worker", 2))]


def median_ms(fn) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    hosts, wanted = cluster(1000), demands(1000)
    fresh = median_ms(lambda: spread(wanted, hosts))
    placed = spread(wanted, hosts)
    # One host lost: every process keeps its host except the ~10 that ran on the dead one.
    dead = [HostInfo(h.name, h.memory, healthy=h.name != "h0007") for h in hosts]
    after_loss = median_ms(lambda: spread(wanted, dead, placed))
    tagged_hosts, tagged = cluster(1000, tagged=True), demands(1000, tagged=True)
    with_tags = median_ms(lambda: spread(tagged, tagged_hosts))
    small = median_ms(lambda: spread(demands(1), cluster(3)))
    print(f"placement of 10,000 processes over 1,000 hosts (median of {RUNS}):")
    print(f"  fresh cluster            {fresh:8.1f} ms   (target <= 100 ms)")
    print(f"  after losing one host    {after_loss:8.1f} ms   (current placement kept, 10 moved)")
    print(f"  half the apps with tags  {with_tags:8.1f} ms")
    print(f"  one app, 3 hosts         {small:8.3f} ms")


if __name__ == "__main__":
    main()
