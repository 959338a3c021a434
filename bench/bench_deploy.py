"""Deploys on a whole platform (``deisctl up``): the controller, the deploy workers, the local Docker engine, the router.

Prints medians over several runs of:
- config:set -> the new release answers through the router (and the API call's own duration);
- rollback -> the rolled-back release answers through the router;
- scale web 1->10 through the API, against starting the same 10 containers with the docker SDK
  (in parallel, until each answers HTTP: the scheduler's scale is done when all are serving);
- failed requests (wrk through the router) during config:set, rollback, scale 1->3->1 and ps:restart.

    python bench/bench_deploy.py [--runs 5]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import docker  # noqa: E402
import requests  # noqa: E402

from deiscore.settings import load  # noqa: E402
from scheduler.containers import CONTAINER_PORT  # noqa: E402
from tests.e2e.conftest import running_platform  # noqa: E402
from tests.scheduler.echoapp import build_echo_image  # noqa: E402

DOMAIN = "bench.test"
WEB = "python3 -u /app.py"


class Platform:
    """A whole platform (``deisctl up``) in a temp dir, one app running the echo image as ``web``: the
    image is pushed into the app's repository of the platform registry and released with ``deis pull``."""

    def __init__(self, root: Path, client, image: str):
        self.stack = contextlib.ExitStack()
        self.live = self.stack.enter_context(running_platform(root, {"DEIS_DOMAIN": DOMAIN}))
        profile = json.loads((Path(self.live.env["DEIS_PROFILE_DIR"]) / "client.json").read_text())
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"token {profile['token']}"
        self.controller_url = self.live.controller_url
        self.app = f"bench-{secrets.token_hex(3)}"
        self.call("post", "/apps", {"id": self.app})
        settings = load(self.live.env)
        repository = f"{settings.registry}/{self.app}"
        client.images.get(image).tag(repository, "echo")
        for line in client.images.push(repository, "echo", auth_config=settings.registry_auth, stream=True,
                                       decode=True):
            if "error" in line:
                raise RuntimeError(line["error"])
        self.call("post", f"/apps/{self.app}/builds", {"image": f"{repository}:echo", "procfile": {"web": WEB}})
        self.call("post", f"/apps/{self.app}/scale", {"web": 1})

    def call(self, method: str, path: str, payload: dict | None = None) -> dict:
        response = getattr(self.api, method)(f"{self.controller_url}/v1{path}", json=payload, timeout=120)
        response.raise_for_status()
        result = response.json()
        deploy = result.get("deploy") if isinstance(result, dict) else None
        if deploy:
            self.follow(deploy)
        return result

    def follow(self, deploy: dict) -> None:
        """Wait as ``deis`` does: until traffic is on the new release (or the deploy ended)."""
        since = 0
        while True:
            page = self.api.get(f"{self.controller_url}/v1/apps/{deploy['app']}/deploys/{deploy['id']}",
                                params={"since": since, "wait": 5}, timeout=60).json()
            for event in page["events"]:
                if event.get("live"):
                    return
                if event.get("end"):
                    if not event.get("ok"):
                        raise RuntimeError(f"deploy failed: {event.get('error')}")
                    return
            since = page["next"]

    def url(self) -> str:
        return f"http://127.0.0.1:{self.live.router_port}/"

    def body(self, session: requests.Session) -> str:
        try:
            return session.get(self.url(), headers={"Host": f"{self.app}.{DOMAIN}"}, timeout=5).text
        except requests.RequestException:
            return ""

    def close(self) -> None:
        self.stack.close()


def until_serving(platform: Platform, action, expected: str) -> tuple[float, float]:
    """Run ``action`` in a thread; return (seconds until the router answers ``expected``, seconds the
    action took: until the deploy's switch, as ``deis`` waits)."""
    session = requests.Session()
    result = {}

    def run():
        began = time.monotonic()
        action()
        result["seconds"] = time.monotonic() - began

    began = time.monotonic()
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    served = float("nan")
    while time.monotonic() - began < 120:
        if platform.body(session) == expected:
            served = time.monotonic() - began
            break
        time.sleep(0.005)
    worker.join(120)
    return served, result.get("seconds", float("nan"))


def bench_config_and_rollback(platform: Platform, runs: int) -> tuple[list, list]:
    """Each run: config:set MSG (release N+1), then rollback to N (release N+2: the old MSG back)."""
    app = f"/apps/{platform.app}"
    config, rollback = [], []
    for run in range(runs):
        version = platform.call("get", f"{app}/releases")["results"][0]["version"]
        old = platform.body(requests.Session()).rsplit(" ", 1)[0]
        msg = f"m{run}-{secrets.token_hex(2)}"
        config.append(until_serving(platform, lambda: platform.call("post", f"{app}/config", {"values": {"MSG": msg}}),
                                    f"{msg} v{version + 1}"))
        rollback.append(until_serving(platform, lambda: platform.call("post", f"{app}/releases/rollback", {}),
                                      f"{old} v{version + 2}"))
        print(f"run {run + 1}: config:set serving {config[-1][0]:.2f}s (call {config[-1][1]:.2f}s), "
              f"rollback serving {rollback[-1][0]:.2f}s (call {rollback[-1][1]:.2f}s)")
    return config, rollback


def raw_start(client, image: str, count: int, label: str) -> tuple[float, float]:
    """Start ``count`` containers with the docker SDK in parallel; (seconds started, seconds answering)."""
    began = time.monotonic()

    def one(i):
        container = client.containers.run(image, ["sh", "-c", WEB], detach=True, init=True,
                                          name=f"{label}-{i}", labels={"deis-bench": label},
                                          environment={"PORT": str(CONTAINER_PORT)},
                                          ports={f"{CONTAINER_PORT}/tcp": ("127.0.0.1", None)})
        started = time.monotonic() - began
        container.reload()
        port = container.attrs["NetworkSettings"]["Ports"][f"{CONTAINER_PORT}/tcp"][0]["HostPort"]
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/", timeout=1)
                return started, time.monotonic() - began
            except requests.RequestException:
                time.sleep(0.02)

    with ThreadPoolExecutor(max_workers=count) as pool:
        results = list(pool.map(one, range(count)))
    return max(s for s, _ in results), max(a for _, a in results)


def bench_scale(platform: Platform, client, image: str, runs: int) -> tuple[list, list, list]:
    scaled, raw_started, raw_answering = [], [], []
    for run in range(runs):
        began = time.monotonic()
        platform.call("post", f"/apps/{platform.app}/scale", {"web": 10})
        scaled.append(time.monotonic() - began)
        platform.call("post", f"/apps/{platform.app}/scale", {"web": 1})
        label = f"deis-bench-raw-{secrets.token_hex(3)}"
        try:
            started, answering = raw_start(client, image, 10, label)
        finally:
            for c in client.containers.list(all=True, filters={"label": f"deis-bench={label}"}):
                c.remove(force=True)
        raw_started.append(started)
        raw_answering.append(answering)
        print(f"run {run + 1}: scale web 1->10 {scaled[-1]:.2f}s | docker SDK: 10 started {started:.2f}s, "
              f"all answering {answering:.2f}s")
    return scaled, raw_started, raw_answering


def under_load(platform: Platform, seconds: int, action) -> str:
    """Run wrk through the router while ``action`` runs; return wrk's totals and errors."""
    wrk = subprocess.Popen(["wrk", "-t2", "-c20", f"-d{seconds}s", "--latency", "-H",
                            f"Host: {platform.app}.{DOMAIN}", platform.url()],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(0.5)
    action()
    out, _ = wrk.communicate(timeout=seconds + 30)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    socket_errors = sum(int(n) for n in errors.groups()) if errors else 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    failed = socket_errors + (int(non2xx.group(1)) if non2xx else 0)
    return f"{failed} failed of {total}" + (f" ({errors.group(0)})" if errors else "")


def bench_failures(platform: Platform) -> None:
    app = f"/apps/{platform.app}"
    actions = {
        "config:set": lambda: platform.call("post", f"{app}/config", {"values": {"MSG": "load"}}),
        "rollback": lambda: platform.call("post", f"{app}/releases/rollback", {}),
        "scale 1->3->1": lambda: (platform.call("post", f"{app}/scale", {"web": 3}),
                                  platform.call("post", f"{app}/scale", {"web": 1})),
        "ps:restart": lambda: platform.call("post", f"{app}/containers/restart", {}),
    }
    for name, action in actions.items():
        print(f"failed requests during {name} under load (wrk -t2 -c20): {under_load(platform, 8, action)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    client = docker.from_env()
    image = build_echo_image(client)
    with tempfile.TemporaryDirectory() as tmp:
        platform = Platform(Path(tmp), client, image)
        try:
            config, rollback = bench_config_and_rollback(platform, args.runs)
            scaled, raw_started, raw_answering = bench_scale(platform, client, image, args.runs)
            bench_failures(platform)
        finally:
            platform.close()
    med = statistics.median
    print(f"median config:set -> serving: {med(s for s, _ in config):.2f}s (API call {med(c for _, c in config):.2f}s)"
          " (target <= 2 s)")
    print(f"median rollback -> serving: {med(s for s, _ in rollback):.2f}s (API call "
          f"{med(c for _, c in rollback):.2f}s) (target <= 2 s)")
    print(f"median scale web 1->10: {med(scaled):.2f}s; docker SDK 10 containers: started {med(raw_started):.2f}s, "
          f"answering {med(raw_answering):.2f}s; ratio {med(scaled) / med(raw_answering):.2f}x vs answering, "
          f"{med(scaled) / med(raw_started):.2f}x vs started (target <= 1.5x)")


if __name__ == "__main__":
    main()
