"""Builder benchmark: push-to-image time, git transfer throughput vs native git, builder memory.

Starts its own Redis, controller, registry, build worker and builder (as the builder's tests
do) and, for the comparison, OpenSSH's sshd serving the native ``git-receive-pack``. Prints:

1. push-to-image time of examples/python-web, cold (new app, empty dependency cache: pip
   downloads and installs) and warm (a code change, unchanged requirements.txt): medians over
   ``--runs`` runs, after one first push that uploads the stack layer to the registry. "to image" is
   when the builder reports ``Build complete`` (the image is in the registry); "push" is the
   whole ``git push`` (also registering the build and making the release).
2. git transfer throughput for a ~50 MB repo with history (incompressible random files over
   several commits, 256 KB files, repacked so the client's pack-objects mostly copies): native git over
   OpenSSH (whole push into a fresh bare repo) against the builder (pushing to ``master`` of a
   fresh app, timed until the builder says ``-----> Building``: the pack has then been
   received, indexed and checked, and the build begins; the repo has nothing a buildpack
   detects, so the build after that is short and rejected).
3. the builder process's resident memory before a push and its peak (VmHWM, reset before each
   push through /proc/PID/clear_refs) during 50 MB and 200 MB pushes.

Run: python bench/bench_builder.py [--runs 3] [--transfer-mb 50] [--memory-mb 200]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _builder_services import builder_platform, native_sshd  # noqa: E402

from tests.builder.conftest import commit, git  # noqa: E402

FILE_KB = 256  # 50 MB is then ~200 blobs: over receive.unpackLimit, so native git runs index-pack too


def ssh_command(key: Path, known_hosts: Path) -> str:
    return (f"ssh -i {key} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no "
            f"-o UserKnownHostsFile={known_hosts} -o LogLevel=ERROR")


def timed_push(work: Path, url: str, key: Path, known_hosts: Path, markers: tuple[bytes, ...] = ()):
    """Run ``git push url master``; return (seconds to exit, {marker: seconds to first seen}, rc, output)."""
    env = {**os.environ, "GIT_SSH_COMMAND": ssh_command(key, known_hosts), "GIT_TERMINAL_PROMPT": "0"}
    seen: dict[bytes, float] = {}
    output = b""
    start = time.perf_counter()
    proc = subprocess.Popen(["git", "-C", str(work), "push", url, "master"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env)
    while True:
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            break
        output += chunk
        now = time.perf_counter() - start
        for marker in markers:
            if marker not in seen and marker in output:
                seen[marker] = now
    rc = proc.wait()
    return time.perf_counter() - start, seen, rc, output.decode("utf-8", "replace")


def random_repo(path: Path, total_mb: int, commits: int) -> int:
    """A repo of ``total_mb`` of random files added over ``commits`` commits; return its pack size."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "master")
    per_commit = max(1, total_mb * 1024 // (commits * FILE_KB))
    for c in range(commits):
        folder = path / f"part{c:02d}"
        folder.mkdir()
        for f in range(per_commit):
            (folder / f"blob{f:03d}.bin").write_bytes(os.urandom(FILE_KB << 10))
        commit(path, f"part {c}")
    git(path, "repack", "-a", "-d", "-q")
    return sum(p.stat().st_size for p in (path / ".git" / "objects" / "pack").glob("*.pack"))


def proc_status(pid: int, field: str) -> int:
    """A ``kB`` field of /proc/PID/status, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS


def first_push(running, user) -> float:
    """The platform's first push uploads the stack image's layer to the registry; later apps
    share it (cross-repository mount). Done before measuring, so "cold" is the same for each run."""
    _, token, key = user
    platform = running.platform
    seconds, _, rc, out = timed_push(platform.checkout("static-site"), platform.remote(platform.create_app(token)),
                                     key, platform.workdir / "known_hosts")
    if rc != 0:
        raise SystemExit(f"first push failed:\n{out}")
    return seconds


def bench_python(running, user, runs: int) -> dict:
    _, token, key = user
    platform = running.platform
    known = platform.workdir / "known_hosts"
    done = b"Build complete"
    cold, warm, cold_push, warm_push = [], [], [], []
    for run in range(runs):
        app = platform.create_app(token)
        work = platform.checkout("python-web", name=f"python-{run}")
        seconds, seen, rc, out = timed_push(work, platform.remote(app), key, known, (done,))
        if rc != 0 or done not in seen or "Installing dependencies from requirements.txt" not in out:
            raise SystemExit(f"cold push failed or did not install:\n{out}")
        cold.append(seen[done])
        cold_push.append(seconds)
        (work / "app.py").write_text((work / "app.py").read_text() + f"\n# warm {run}\n")
        commit(work, "code change")
        seconds, seen, rc, out = timed_push(work, platform.remote(app), key, known, (done,))
        if rc != 0 or done not in seen or "reusing cached dependencies" not in out:
            raise SystemExit(f"warm push failed or reinstalled:\n{out}")
        warm.append(seen[done])
        warm_push.append(seconds)
    return {"cold": cold, "warm": warm, "cold_push": cold_push, "warm_push": warm_push}


def bench_transfer(running, user, tmp: Path, mb: int, runs: int) -> dict:
    _, token, key = user
    platform = running.platform
    known = platform.workdir / "known_hosts"
    source = tmp / f"repo-{mb}"
    pack_size = random_repo(source, mb, commits=10)
    building = b"-----> Building"
    native_times, builder_times = [], []
    with native_sshd(tmp / "sshd", key) as sshd:
        for run in range(runs):
            bare = tmp / f"native-{mb}-{run}.git"
            subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
            seconds, _, rc, out = timed_push(source, sshd.url(bare), key, known)
            if rc != 0:
                raise SystemExit(f"native push failed:\n{out}\n{(tmp / 'sshd' / 'sshd.log').read_text()}")
            native_times.append(seconds)

            app = platform.create_app(token)
            _, seen, rc, out = timed_push(source, platform.remote(app), key, known, (building,))
            if building not in seen:
                raise SystemExit(f"the builder did not receive the pack:\n{out}")
            if rc == 0 or "No buildpack detected" not in out:
                raise SystemExit(f"expected the build to be rejected after the transfer:\n{out}")
            builder_times.append(seen[building])
    return {"pack_mb": pack_size / 1e6, "native": native_times, "builder": builder_times}


def bench_memory(running, user, tmp: Path, sizes: list[int]) -> list[dict]:
    _, token, key = user
    platform = running.platform
    known = platform.workdir / "known_hosts"
    pid = running.builder_pid
    rows = []
    for mb in sizes:
        source = tmp / f"memory-{mb}"
        pack_size = random_repo(source, mb, commits=10)
        app = platform.create_app(token)
        before = proc_status(pid, "VmRSS")
        reset_peak(pid)
        peaks = {"RssAnon": 0, "RssFile": 0}
        stop = threading.Event()

        def sample():
            while not stop.wait(0.01):
                for field in peaks:
                    peaks[field] = max(peaks[field], proc_status(pid, field))

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            _, _, rc, out = timed_push(source, platform.remote(app), key, known)
        finally:
            stop.set()
            sampler.join()
        if "No buildpack detected" not in out:
            raise SystemExit(f"unexpected push outcome:\n{out}")
        rows.append({"pack_mb": pack_size / 1e6, "rss_before": before, "peak": proc_status(pid, "VmHWM"),
                     "rss_after": proc_status(pid, "VmRSS"), "anon": peaks["RssAnon"], "file": peaks["RssFile"]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--transfer-mb", type=int, default=50)
    parser.add_argument("--memory-mb", type=int, default=200)
    parser.add_argument("--skip-python", action="store_true")
    args = parser.parse_args()

    import docker

    docker_client = docker.from_env()
    med = statistics.median
    with tempfile.TemporaryDirectory(prefix="bench-builder-") as tmp:
        tmp = Path(tmp)
        with builder_platform(tmp / "platform", docker_client) as running:
            user = running.platform.new_user("bench")
            if not args.skip_python:
                print(f"first push of the platform (static-site; uploads the stack layer to the registry): "
                      f"{first_push(running, user):.2f} s")
                py = bench_python(running, user, args.runs)
                print(f"python-web push-to-image ({args.runs} runs, median): "
                      f"cold {med(py['cold']):.2f} s, warm {med(py['warm']):.2f} s "
                      f"(target warm <= 5 s)")
                print(f"python-web whole git push incl. release (median): "
                      f"cold {med(py['cold_push']):.2f} s, warm {med(py['warm_push']):.2f} s")
                print("  runs cold: " + ", ".join(f"{t:.2f}" for t in py["cold"])
                      + " | warm: " + ", ".join(f"{t:.2f}" for t in py["warm"]))
            tr = bench_transfer(running, user, tmp, args.transfer_mb, args.runs)
            native = tr["pack_mb"] / med(tr["native"])
            ours = tr["pack_mb"] / med(tr["builder"])
            print(f"git transfer of a {tr['pack_mb']:.1f} MB pack (10 commits, {args.runs} runs, median): "
                  f"native git-receive-pack over OpenSSH {med(tr['native']):.2f} s = {native:.1f} MB/s; "
                  f"builder {med(tr['builder']):.2f} s = {ours:.1f} MB/s; ratio {ours / native:.2f}x "
                  f"(target >= 0.5x)")
            sizes = sorted({min(args.transfer_mb, args.memory_mb), args.memory_mb})
            for row in bench_memory(running, user, tmp, sizes):
                print(f"builder memory, {row['pack_mb']:.0f} MB push: RSS before {row['rss_before'] / 1e6:.1f} MB, "
                      f"peak during {row['peak'] / 1e6:.1f} MB (+{(row['peak'] - row['rss_before']) / 1e6:.1f} MB), "
                      f"after {row['rss_after'] / 1e6:.1f} MB; sampled peaks: anonymous {row['anon'] / 1e6:.1f} MB, "
                      f"file-backed {row['file'] / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
