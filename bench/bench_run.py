"""``deis run -- true`` on a whole platform (``deisctl up``), examples/python-web pushed once.

Prints medians over ``--runs`` runs of:
- the round trip of ``deis run -- true`` through the real CLI (Python start, WebSocket handshake through
  the controller, one-off container created, attached, started, waited for, removed);
- ``deis --version`` alone (the CLI's own start, part of the above);
- the baseline: ``docker run --rm <the app's image> true`` straight on the engine (the same entrypoint
  and command), and the ratio run/baseline.

    python bench/bench_run.py [--runs 10]
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

import docker  # noqa: E402

from scheduler.containers import LABEL_APP, LABEL_PLATFORM, LABEL_TYPE  # noqa: E402
from scheduler.scheduler import platform_id  # noqa: E402
from tests.e2e.conftest import running_platform  # noqa: E402

CLI = [sys.executable, "-c", "from client.cli import main; main()"]


def timed(argv: list[str], env: dict | None = None, cwd: Path | None = None) -> float:
    began = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=120)
    seconds = time.perf_counter() - began
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} failed ({proc.returncode}): {proc.stdout.decode(errors='replace')}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    client = docker.from_env()
    with tempfile.TemporaryDirectory() as tmp, running_platform(Path(tmp)) as platform:
        work = platform.checkout("python-web")
        app = platform.create_app(work)
        platform.push(work).ok()
        labels = [f"{LABEL_PLATFORM}={platform_id(platform.home)}", f"{LABEL_APP}={app}", f"{LABEL_TYPE}=web"]
        image = client.containers.list(filters={"label": labels})[0].attrs["Config"]["Image"]
        timed([*CLI, "run", "--", "true"], platform.env, work)  # warm: the engine's caches, the controller's imports
        timed(["docker", "run", "--rm", image, "true"])
        runs, cli, baseline = [], [], []
        for _ in range(args.runs):
            runs.append(timed([*CLI, "run", "--", "true"], platform.env, work))
            cli.append(timed([*CLI, "--version"], platform.env, work))
            baseline.append(timed(["docker", "run", "--rm", image, "true"]))
    med = statistics.median
    print(f"runs: {args.runs}; image {image}")
    print(f"median deis run -- true: {med(runs):.3f}s (of which the CLI's own start, deis --version: {med(cli):.3f}s)")
    print(f"median docker run --rm IMAGE true: {med(baseline):.3f}s")
    print(f"ratio deis run / docker run: {med(runs) / med(baseline):.2f}x")


if __name__ == "__main__":
    main()
