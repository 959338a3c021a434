"""``deis config:set`` on a whole platform (``deisctl up``): time until the CLI returns, and until the router
serves the new release, against a baseline in the same run.

- after (the product): the real ``deis config:set`` CLI, which follows the deploy job live and returns once
  traffic is on the new release (the old container drains and stops in the background);
- baseline: the same change through the API, waiting until the old container is stopped too (the deploy
  drained and stopped it), which is when the API answered while deploys ran inside the request.

Each run changes MSG; a poller asks the router for ``/env/MSG`` from the moment the command starts.

    python bench/bench_release.py [--runs 7]
"""
from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import docker  # noqa: E402
import requests  # noqa: E402

from tests.e2e.conftest import running_platform  # noqa: E402


def timed(platform, app: str, value: str, command) -> tuple[float, float]:
    """(seconds until ``command()`` returned, seconds until the router served MSG=value), both from the start."""
    served = {}
    began = time.monotonic()

    def poll():
        while time.monotonic() - began < 120:
            try:
                if platform.get(app, "/env/MSG", timeout=2).text == value:
                    served["at"] = time.monotonic() - began
                    return
            except requests.RequestException:
                pass
            time.sleep(0.005)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    command()
    returned = time.monotonic() - began
    poller.join(120)
    return returned, served.get("at", float("nan"))


def cli_config_set(platform, work: Path, value: str) -> None:
    platform.deis("config:set", f"MSG={value}", cwd=work).ok()


def api_config_set_until_stopped(platform, client, token: str, app: str, value: str) -> None:
    """The change through the API, then wait for its deploy's end and for the old container to be gone."""
    old = {c.id for c in client.containers.list(filters={"label": f"deis.app={app}"})}
    session = requests.Session()
    session.headers["Authorization"] = f"token {token}"
    url = f"{platform.controller_url}/v1/apps/{app}"
    deploy = session.post(f"{url}/config", json={"values": {"MSG": value}}, timeout=60).json()["deploy"]
    since = 0
    while True:
        page = session.get(f"{url}/deploys/{deploy['id']}", params={"since": since, "wait": 5}, timeout=60).json()
        if any(event.get("end") for event in page["events"]):
            break
        since = page["next"]
    while old & {c.id for c in client.containers.list(filters={"label": f"deis.app={app}"})}:
        time.sleep(0.01)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    client = docker.from_env()
    with tempfile.TemporaryDirectory() as tmp, running_platform(Path(tmp)) as platform:
        work = platform.checkout("python-env")
        app = platform.create_app(work)
        platform.push(work).ok()
        token = json.loads((Path(platform.env["DEIS_PROFILE_DIR"]) / "client.json").read_text())["token"]
        after, baseline = [], []
        for run in range(args.runs):
            value = f"a{run}-{secrets.token_hex(2)}"
            after.append(timed(platform, app, value, lambda: cli_config_set(platform, work, value)))
            value = f"b{run}-{secrets.token_hex(2)}"
            baseline.append(timed(platform, app, value,
                                  lambda: api_config_set_until_stopped(platform, client, token, app, value)))
            print(f"run {run + 1}: deis config:set returned {after[-1][0]:.2f}s, serving {after[-1][1]:.2f}s | "
                  f"baseline (until the old container stopped) returned {baseline[-1][0]:.2f}s, serving {baseline[-1][1]:.2f}s")
        med = statistics.median
        cli, cli_serving = med(a for a, _ in after), med(s for _, s in after)
        base, base_serving = med(b for b, _ in baseline), med(s for _, s in baseline)
        print(f"median deis config:set: CLI back {cli:.2f}s (target <= 1 s), serving {cli_serving:.2f}s "
              f"(target <= 0.4 s)")
        print(f"median baseline (the API waiting until the old container stopped): back {base:.2f}s, serving {base_serving:.2f}s")
        print(f"ratio CLI back / baseline back: {cli / base:.2f}x")


if __name__ == "__main__":
    main()
