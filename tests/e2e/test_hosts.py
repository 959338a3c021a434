"""Hosts as platform state: deisctl cluster up registers namespace hosts (pinned keys); hosts:list
shows them live; hosts:add refuses garbage, unreachable hosts and a wrong host key; admin only."""
import os

import pytest

from deiscore.processes import stop_pid
from tests.conftest import start_controller
from tests.e2e.conftest import LivePlatform

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live_platform(tmp_path_factory):
    """Only the controller (hosts need no router or builder), driven with deisctl and the deis CLI."""
    root = tmp_path_factory.mktemp("hosts")
    home = root / "home"
    home.mkdir()
    ctl, proc = start_controller(home)
    env = {**os.environ, **ctl.env, "DEIS_CONTROLLER_URL": ctl.url, "DEIS_PROFILE_DIR": str(root / "profile"),
           "DEIS_CLUSTER_SUBNET": "10.213.21.0/24"}
    platform = LivePlatform(home=home, env=env, workdir=root, key=root / "unused")
    try:
        platform.deis("register", ctl.url, "--username", "admin", "--password", "admin-pass-1",
                      "--email", "admin@example.com").ok()
        yield platform
    finally:
        stop_pid(proc.pid)


@pytest.fixture(scope="module")
def cluster(live_platform):
    up = live_platform.deisctl("cluster", "up", "--hosts", "2").ok()
    try:
        yield up.output
    finally:
        live_platform.deisctl("cluster", "down").ok()


def test_cluster_hosts_are_registered_and_listed(live_platform, cluster):
    assert "h1   ssh://root@10.213.21.11" in cluster and "registered" in cluster
    listing = live_platform.deis("hosts:list").ok().output.splitlines()
    rows = {line.split()[0]: line.split() for line in listing[2:]}
    assert rows["h1"][1:4] == ["ssh://root@10.213.21.11", "up", "0"]
    assert rows["h2"][1:4] == ["ssh://root@10.213.21.12", "up", "0"]
    known = (live_platform.home / "ssh" / "known_hosts").read_text().splitlines()
    assert [line.split()[0] for line in known] == ["10.213.21.11", "10.213.21.12"]
    again = live_platform.deisctl("cluster", "up", "--hosts", "2").ok()
    assert "already registered" in again.output


def test_hosts_add_refuses_bad_input_without_changes(live_platform, cluster):
    before = (live_platform.home / "ssh" / "known_hosts").read_text()
    for url, message in (("http://10.213.21.11", "host URL must look like ssh://"),
                         ("ssh://root@10.213.21.11;rm -rf /", "host URL must look like ssh://"),
                         ("ssh://root@127.0.0.1:1", "cannot reach the Docker Engine")):
        result = live_platform.deis("hosts:add", url)
        assert result.returncode != 0 and message in result.output, result.output
    wrong = live_platform.deis("hosts:add", "ssh://root@10.213.21.12", "--name", "other",
                               "--host-key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOw0rCkq4I6fYq7oRm4AAAAAAAAAAAAAAAAAAAAAAAAA")
    assert wrong.returncode != 0 and "different SSH host key" in wrong.output, wrong.output
    dup = live_platform.deis("hosts:add", "ssh://root@10.213.21.12")
    assert dup.returncode != 0 and "already registered" in dup.output
    assert (live_platform.home / "ssh" / "known_hosts").read_text() == before


def test_hosts_remove(live_platform, cluster):
    assert live_platform.deis("hosts:remove", "nope").returncode != 0
    live_platform.deis("hosts:remove", "h2").ok()
    assert "h2" not in live_platform.deis("hosts:list").ok().output
    assert "10.213.21.12" not in (live_platform.home / "ssh" / "known_hosts").read_text()
    assert "registered" in live_platform.deisctl("cluster", "up", "--hosts", "2").ok().output


def test_hosts_are_for_administrators_only(live_platform, cluster):
    user = LivePlatform(home=live_platform.home, workdir=live_platform.workdir, key=live_platform.key,
                        env={**live_platform.env, "DEIS_PROFILE_DIR": str(live_platform.workdir / "profile-user")})
    user.deis("register", live_platform.controller_url, "--username", "plain", "--password", "plain-pass-1",
              "--email", "plain@example.com").ok()
    for args in (("hosts:list",), ("hosts:add", "ssh://root@10.213.21.13"), ("hosts:remove", "h1")):
        result = user.deis(*args)
        assert result.returncode != 0 and "only administrators" in result.output, result.output
    assert "h1" in live_platform.deis("hosts:list").ok().output
