"""Shell scripts that set up a machine to run app containers, shipped as package data of the scheduler.

``provision.sh`` turns a machine (a Vagrant VM, a network-namespace host of ``deisctl cluster up``)
into a host: a Docker Engine behind key-only sshd; ``firewall.sh`` closes a machine to its app
containers (:mod:`scheduler.firewall`, and ``provision.sh`` runs it from its own directory).
"""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from scheduler.errors import SchedulerError


def script(name: str) -> Path:
    """The path of the shipped script ``name``, to run with ``bash``.

    The scripts run as files (provision.sh finds firewall.sh next to itself), so the package must be
    installed as a directory, as pip installs it; a zipped one is refused with a clear message."""
    resource = files(__name__).joinpath(name)
    if not isinstance(resource, Path) or not resource.is_file():
        raise SchedulerError(f"{name} is not installed as a file with the scheduler package ({resource})")
    return resource
