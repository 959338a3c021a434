"""What a release phase adds to a deploy, on a whole platform (``deisctl up``, git push, the real CLI).

Two copies of examples/python-web are pushed: one with a Procfile ``release: true`` (an empty release
command), one without. Each run then times ``deis config:set`` on both, alternating (the command returns
once traffic is on the new release, so the release phase is on its clock). Prints the medians, the
difference and the ratio, and as the floor the median of ``docker run --rm <app image> true`` on the same
engine in the same process.

    python bench/bench_release_phase.py [--runs 7]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import docker  # noqa: E402

from tests.e2e.conftest import commit, running_platform  # noqa: E402


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def push_app(platform, release_command: str | None) -> tuple[Path, str]:
    work = platform.checkout("python-web")
    if release_command is not None:
        with open(work / "Procfile", "a") as procfile:
            procfile.write(f"release: {release_command}\n")
        commit(work, "release phase")
    name = platform.create_app(work)
    platform.push(work).ok()
    return work, name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-release-phase-") as root, running_platform(Path(root)) as platform:
        plain, with_phase = push_app(platform, None), push_app(platform, "true")
        times = {"none": [], "release: true": []}
        for run in range(args.runs):
            for label, (work, _) in (("none", plain), ("release: true", with_phase)):
                times[label].append(timed(lambda: platform.deis("config:set", f"RUN={run}", cwd=work).ok()))
        client = docker.from_env()
        image = client.containers.list(filters={"name": f"{with_phase[1]}_v"})[0].image.id
        floor = [timed(lambda: client.containers.run(image, "true", remove=True)) for _ in range(args.runs)]
    none, phase = statistics.median(times["none"]), statistics.median(times["release: true"])
    print(f"config:set deploy, no release command     median {none:6.2f} s  ({args.runs} runs)")
    print(f"config:set deploy, 'release: true'         median {phase:6.2f} s")
    print(f"added by the release phase                  {phase - none:6.2f} s  (ratio {phase / none:.2f}x)")
    print(f"floor: docker run --rm <app image> true     median {statistics.median(floor):6.2f} s")


if __name__ == "__main__":
    main()
