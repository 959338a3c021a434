"""git push -> the new release serving through the router, on a whole platform (``deisctl up``),
with the real git + OpenSSH client, for the Python app and the Express app in the same run: the cold
first push, then warm pushes (code change only, dependencies cached); and the stack images' sizes.
Prints medians; targets: Node.js warm <= 4 s, Python warm no worse than 4.3 s.

    python bench/bench_push.py [--runs 5] [--apps python,node]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.conftest import commit, running_platform  # noqa: E402

# Each app answers with its release, so the bench knows when the new one serves; a warm push changes
# only the file named here.
NODE_WEB = """const express = require('express');
const app = express();
app.get('/', (req, res) => res.send(`Hello from Node.js ${process.env.DEIS_APP} (release ${process.env.DEIS_RELEASE})\\n`));
app.listen(process.env.PORT, '0.0.0.0');
"""
APPS = {"python": ("python-web", "app.py", None), "node": ("node-express", "web.js", NODE_WEB)}


def push_until_serving(p, work, app: str, version: int) -> float:
    """Seconds from the start of ``git push`` until the router answers with release ``version``."""
    start = time.perf_counter()
    push = p.push(work)
    assert push.returncode == 0, push.output
    expected = f"(release v{version})"
    while expected not in p.get(app).text:
        if time.perf_counter() - start > 300:
            raise AssertionError(f"v{version} never answered")
        time.sleep(0.02)
    return time.perf_counter() - start


def measure(p, name: str, runs: int) -> tuple[float, list[float]]:
    example, changed, web = APPS[name]
    work = p.checkout(example)
    if web is not None:
        (work / changed).write_text(web)
        commit(work, "answer with the release")
    app = p.create_app(work)
    cold = push_until_serving(p, work, app, 2)
    warm = []
    for run in range(runs):
        (work / changed).write_text((work / changed).read_text() + f"\n// change {run}\n".replace(
            "//", "#" if changed.endswith(".py") else "//"))
        commit(work, f"change {run}")
        warm.append(push_until_serving(p, work, app, 3 + run))
    return cold, warm


def image_size(image: str) -> float:
    import docker

    return docker.from_env().images.get(image).attrs["Size"] / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--apps", default="python,node")
    args = parser.parse_args()
    results = {}
    with running_platform(Path(tempfile.mkdtemp(prefix="bench-push-"))) as p:
        for name in args.apps.split(","):
            results[name] = measure(p, name, args.runs)
        from deiscore.settings import load

        s = load(p.env)
        from builder.stack import stack_images

        sizes = {image: image_size(image) for image in stack_images(s)}
    print("git push -> new release serving through the router:")
    for name, (cold, warm) in results.items():
        print(f"  {name:<7} cold (first push, dependencies installed): {cold:6.2f} s")
        print(f"  {name:<7} warm (code change only), median of {args.runs}: {statistics.median(warm):6.2f} s; "
              f"runs {', '.join(f'{t:.2f}' for t in warm)}")
    if "python" in results and "node" in results:
        ratio = statistics.median(results["node"][1]) / statistics.median(results["python"][1])
        print(f"  node warm / python warm: {ratio:.2f}  (targets: node warm <= 4 s, python warm <= 4.3 s)")
    print("stack images (uncompressed, as the engine reports them):")
    for image, size in sizes.items():
        print(f"  {image:<32} {size:7.0f} MB")
    print(json.dumps({"results": {k: {"cold": c, "warm_median": statistics.median(w)} for k, (c, w) in results.items()},
                      "image_mb": sizes}))


if __name__ == "__main__":
    main()
