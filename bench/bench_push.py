"""git push -> the new release serving through the router, on a whole platform (``deisctl up``),
with the real git + OpenSSH client: the cold first push, then warm pushes (code change only,
dependencies cached). Prints medians; target warm <= 5 s for a small app.

    python bench/bench_push.py [--runs 5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.conftest import commit, running_platform  # noqa: E402


def push_until_serving(p, work, app: str, version: int) -> float:
    """Seconds from the start of ``git push`` until the router answers with release ``version``."""
    start = time.perf_counter()
    push = p.push(work)
    assert push.returncode == 0, push.output
    expected = f"(release v{version})"
    while expected not in p.get(app).text:
        if time.perf_counter() - start > 120:
            raise AssertionError(f"v{version} never answered")
        time.sleep(0.02)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with running_platform(Path(tempfile.mkdtemp(prefix="bench-push-"))) as p:
        work = p.checkout("python-web")
        app = p.create_app(work)
        cold = push_until_serving(p, work, app, 2)
        warm = []
        for run in range(args.runs):
            (work / "app.py").write_text((work / "app.py").read_text() + f"\n# change {run}\n")
            commit(work, f"change {run}")
            warm.append(push_until_serving(p, work, app, 3 + run))
    print("git push -> new release serving through the router (examples/python-web):")
    print(f"  cold (first push, dependencies installed): {cold:.2f} s")
    print(f"  warm (code change only), median of {args.runs}: {statistics.median(warm):.2f} s (target <= 5 s); "
          f"runs {', '.join(f'{t:.2f}' for t in warm)}")


if __name__ == "__main__":
    main()
