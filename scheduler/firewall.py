"""The firewall between app containers and the hosts' own services.

One rule set, ``firewall.sh`` (in :mod:`scheduler.hostscripts`), for every machine that runs app
containers: ``deisctl up`` installs it here (:func:`install`), ``provision.sh`` on each host
(Vagrant VMs and the namespace hosts of ``deisctl cluster up``). From an app container only the outside world, the app's own
containers and the router ports are reachable; the controller, builder, Redis, registry, sshd, the
engine and the platform's private network (other hosts' published ports) are not.
"""
from __future__ import annotations

import subprocess
from typing import Iterable

from scheduler.errors import SchedulerError
from scheduler.hostscripts import script

CHAINS = ("DEIS-ISOLATION", "DEIS-ISOLATION-FWD")


def command(router_ports: Iterable[int], platform_net: str, remove: bool = False) -> list[str]:
    argv = ["bash", str(script("firewall.sh")), "--router-ports", ",".join(str(int(p)) for p in router_ports),
            "--platform-net", platform_net]
    return argv + ["--remove"] if remove else argv


def install(router_ports: Iterable[int], platform_net: str, remove: bool = False) -> None:
    """Install the rules (idempotent), letting app containers reach ``router_ports``; with ``remove``,
    take those ports out again (the rest stays: other platforms on this machine rely on it)."""
    argv = command(router_ports, platform_net, remove)
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SchedulerError(f"firewall: {exc}") from exc
    if result.returncode != 0:
        raise SchedulerError(f"firewall: {(result.stderr or result.stdout).strip()}")
