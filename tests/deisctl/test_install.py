"""The platform installed as a regular package (not editable, not the checkout) works like a checkout.

A fresh venv gets this checkout built and installed with ``--no-deps``; its dependencies come from the
venv running the tests, through a ``.pth`` line (no download). From there, with the working directory
outside the checkout, ``deisctl up`` starts a whole platform and ``deisctl cluster up --hosts 2``
provisions and registers two namespace hosts: the scripts and templates they need are package data.
"""
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest
from deiscore.processes import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PORTS = ("DEIS_CONTROLLER_PORT", "DEIS_REDIS_PORT", "DEIS_REGISTRY_PORT", "DEIS_BUILDER_PORT", "DEIS_ROUTER_PORT")
INHERITED = ("DEIS_BUILDER_SECRET", "DEIS_REDIS_URL", "DEIS_CONTROLLER_URL", "DEIS_DATABASE_URL",
             "DEIS_SCHEDULER", "DEIS_DOMAIN", "DEIS_PROFILE_DIR", "PYTHONPATH", "PYTHONHOME")
PACKAGES = ("deiscore", "controller", "builder", "scheduler", "router", "client", "deisctl")
SUBNET = "10.213.33.0/24"  # apart from the other cluster tests', so that they can run at once


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A venv holding this checkout as a regular install; returns its ``bin`` directory."""
    root = tmp_path_factory.mktemp("installed")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # The dependencies (and pip, and the build backend) of the venv running the tests, after the
    # fresh venv's own site-packages: what is installed there wins.
    shared = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (site / "deis-test-dependencies.pth").write_text("".join(f"{path}\n" for path in shared))
    # Built from a copy, as bootstrap.sh does (an in-tree build would write build/ into the checkout).
    source = root / "source"
    shutil.copytree(ROOT, source, ignore=_not_shipped)
    started = time.monotonic()
    # --ignore-installed: never touch the deis-py that the tests' own venv may hold.
    result = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                             "--ignore-installed", "--disable-pip-version-check", str(source)],
                            capture_output=True, text=True, cwd=root, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    print(f"installed the checkout in {time.monotonic() - started:.1f}s")
    return venv / "bin"


def _not_shipped(directory: str, names: list[str]) -> set[str]:
    top = {".git", "build", "dist", "tests", "examples", "bench"} if Path(directory) == ROOT else set()
    return {name for name in names if name in top or name == "__pycache__" or name.endswith(".egg-info")}


def run(argv: list, env: dict, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def test_imports_come_from_the_installed_copy_with_its_package_data(installed, tmp_path):
    probe = """if True:
        import importlib, json
        from scheduler.hostscripts import script
        from builder.buildpacks import RUNNER_DIR, shipped_buildpacks
        print(json.dumps({"modules": {name: importlib.import_module(name).__file__ for name in %r},
                          "data": [str(script("provision.sh")), str(script("firewall.sh")),
                                   str(RUNNER_DIR / "build"), str(RUNNER_DIR / "init"),
                                   *(str(path / "bin" / "release") for path in shipped_buildpacks().values())]}))
    """ % (PACKAGES,)
    env = {k: v for k, v in os.environ.items() if k not in INHERITED}
    result = run([str(installed / "python"), "-c", probe], env, tmp_path)
    assert result.returncode == 0, result.stdout
    found = json.loads(result.stdout)
    site = installed.parent / "lib"
    for name, path in found["modules"].items():
        assert Path(path).is_relative_to(site), f"{name} imported from {path}, not the installed copy"
    assert len(found["data"]) >= 7
    for path in found["data"]:
        assert Path(path).is_relative_to(site) and Path(path).is_file(), path
    assert (installed / "deisctl").exists() and (installed / "deis").exists()


def test_installed_platform_runs_up_and_cluster_up(installed, tmp_path):
    home, cwd = tmp_path / "home", tmp_path / "elsewhere"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in INHERITED}
    env.update({name: str(free_port()) for name in PORTS})
    env.update({"DEIS_HOME": str(home), "DEIS_CLUSTER_SUBNET": SUBNET, "DEIS_PROFILE_DIR": str(tmp_path / "profile"),
                "PATH": f"{installed}{os.pathsep}{env['PATH']}"})
    deisctl = str(installed / "deisctl")
    url = f"http://127.0.0.1:{env['DEIS_CONTROLLER_PORT']}"
    try:
        up = run([deisctl, "up"], env, cwd)
        assert up.returncode == 0, up.stdout
        status = run([deisctl, "status"], env, cwd)
        assert status.returncode == 0, status.stdout
        components = [line.split()[0] for line in status.stdout.splitlines()]
        assert {"redis", "registry", "router", "controller", "builder", "worker", "reconciler"} <= set(components)
        # Each Python component runs the installed copy: the venv's interpreter, outside the checkout.
        for name in ("controller", "builder", "worker", "reconciler"):
            pid = int((home / "run" / f"{name}.pid").read_text().split()[0])
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            assert argv[0].decode() == str(installed / "python"), (name, argv)
            assert not Path(os.readlink(f"/proc/{pid}/cwd")).is_relative_to(ROOT), name

        cluster = run([deisctl, "cluster", "up", "--hosts", "2"], env, cwd)
        assert cluster.returncode == 0, cluster.stdout
        prefix = SUBNET.rsplit(".", 1)[0]
        for name in ("h1", "h2"):
            line = next(line for line in cluster.stdout.splitlines() if line.startswith(f"{name} "))
            assert f"ssh://root@{prefix}.1{name[1]}" in line and line.endswith("registered"), cluster.stdout
        # The installed ``deis`` CLI: the first user is the administrator, who sees the hosts up.
        deis = str(installed / "deis")
        registered = run([deis, "register", url, "--username", "admin", "--password", "admin-pass-1",
                          "--email", "admin@example.com"], env, cwd)
        assert registered.returncode == 0, registered.stdout
        listing = run([deis, "hosts:list"], env, cwd)
        assert listing.returncode == 0, listing.stdout
        rows = {line.split()[0]: line.split() for line in listing.stdout.splitlines()[2:]}
        assert rows["h1"][1:3] == [f"ssh://root@{prefix}.11", "up"], listing.stdout
        assert rows["h2"][1:3] == [f"ssh://root@{prefix}.12", "up"], listing.stdout
    finally:
        cluster_down = run([deisctl, "cluster", "down"], env, cwd)
        down = run([deisctl, "down"], env, cwd)
    assert cluster_down.returncode == 0 and "removed h1, h2" in cluster_down.stdout, cluster_down.stdout
    assert down.returncode == 0, down.stdout
