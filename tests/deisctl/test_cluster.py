"""deisctl cluster up/down: network-namespace hosts, each with its own dockerd and key-only sshd."""
import os
import subprocess
import sys

import pytest

from deisctl import cluster
from deiscore.processes import free_port
from scheduler.errors import HostError
from scheduler.ssh import docker_over_ssh

DEISCTL = [sys.executable, "-c", "from deisctl.cli import main; main()"]


def test_plan_names_addresses_and_limits(tmp_path):
    bridge, bridge_cidr, hosts = cluster.plan(tmp_path, 3, "10.213.0.0/24")
    cid = cluster.cluster_id(tmp_path)
    assert bridge == f"dbr-{cid}" and bridge_cidr == "10.213.0.1/24"
    assert [(h.name, h.netns, h.address) for h in hosts] == [
        ("h1", f"deis-{cid}-h1", "10.213.0.11"), ("h2", f"deis-{cid}-h2", "10.213.0.12"),
        ("h3", f"deis-{cid}-h3", "10.213.0.13")]
    assert all(len(h.veth) + 1 <= 15 for h in hosts)  # interface names (with the peer's "p") fit IFNAMSIZ
    assert cluster.plan(tmp_path / "other", 1)[0] != bridge  # two platforms never share links
    with pytest.raises(cluster.ClusterError, match="between 1 and"):
        cluster.plan(tmp_path, 0)
    with pytest.raises(cluster.ClusterError, match="between 1 and"):
        cluster.plan(tmp_path, 5, "10.213.0.0/29")


def ssh(home, address, command, key=None):
    key = key or home / "ssh" / "id_ed25519"
    return subprocess.run(["ssh", "-i", str(key), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                           "-o", f"UserKnownHostsFile={home / 'cluster' / 'known_hosts'}",
                           "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=5",
                           f"root@{address}", command], capture_output=True, text=True, timeout=30)


def tiny_image(docker_client, tmp_path, name: str) -> str:
    """A one-file image made here (nothing can be pulled from outside)."""
    root = tmp_path / "tiny"
    root.mkdir()
    (root / "hello.txt").write_text("hello from the platform registry\n")
    tarball = tmp_path / "tiny.tar"
    subprocess.run(["tar", "-C", str(root), "-cf", str(tarball), "."], check=True)
    repository, tag = name.rsplit(":", 1)
    docker_client.api.import_image_from_file(str(tarball), repository=repository, tag=tag)
    return name


@pytest.mark.slow
def test_cluster_up_reaches_each_engine_over_ssh_and_down_removes_everything(tmp_path, docker_client):
    from builder.registry import start_registry
    from deiscore.processes import stop_pid
    from deiscore.settings import load

    home = tmp_path / "home"
    # No controller answers on this free port: a platform the user runs here is never touched.
    env = {**os.environ, "DEIS_HOME": str(home), "DEIS_CLUSTER_SUBNET": "10.213.9.0/24",
           "DEIS_REGISTRY_PORT": str(free_port()), "DEIS_CONTROLLER_PORT": str(free_port())}
    settings = load(env)
    registry = start_registry(settings)
    image = tiny_image(docker_client, tmp_path, f"127.0.0.1:{env['DEIS_REGISTRY_PORT']}/tiny-{os.getpid()}:1")
    for line in docker_client.api.push(image, stream=True, decode=True, auth_config=settings.registry_auth):
        assert "error" not in line, line
    try:
        up = subprocess.run([*DEISCTL, "cluster", "up", "--hosts", "2"], env=env, capture_output=True, text=True,
                            timeout=300)
        assert up.returncode == 0, up.stdout + up.stderr
        assert "h1   ssh://root@10.213.9.11" in up.stdout and "h2   ssh://root@10.213.9.12" in up.stdout
        for name, address in (("h1", "10.213.9.11"), ("h2", "10.213.9.12")):
            info = ssh(home, address, "docker info --format '{{.Labels}} {{.Driver}}'")
            assert info.returncode == 0, info.stderr
            assert info.stdout.split() == [f"[deis.host={name}]", "overlay2"]
        # The scheduler's transport: the docker SDK over paramiko, platform key, pinned host keys only.
        engine = docker_over_ssh("ssh://root@10.213.9.12", home / "ssh" / "id_ed25519", home / "cluster" / "known_hosts")
        assert engine.info()["Labels"] == ["deis.host=h2"]
        (tmp_path / "empty_known_hosts").write_text("")
        with pytest.raises(HostError, match="SSH key is not pinned"):
            docker_over_ssh("ssh://root@10.213.9.12", home / "ssh" / "id_ed25519", tmp_path / "empty_known_hosts")
        # Hosts pull from the platform's registry under the image's own name (forwarded loopback port),
        # with the hosts' account; without credentials the registry refuses.
        pulled = ssh(home, "10.213.9.11", f"docker pull -q {image}")
        assert pulled.returncode != 0 and "no basic auth credentials" in pulled.stderr, pulled.stderr
        engine.images.pull(image, auth_config=settings.registry_host_auth)
        assert engine.images.get(image).id == docker_client.images.get(image).id
        # Read-only for hosts: through the front, no push, no delete, and not as the platform's account.
        front = f"http://127.0.0.1:{env['DEIS_REGISTRY_PORT']}/v2"
        host_user = ":".join(settings.registry_host_auth.values())
        platform_user = ":".join(settings.registry_auth.values())
        netns = f"--net=/run/netns/deis-{cluster.cluster_id(home)}-h1"
        for user, method, path, expected in (
                (None, "GET", "/_catalog", "401"), (host_user, "GET", "/_catalog", "200"),
                (host_user, "POST", f"/tiny-{os.getpid()}/blobs/uploads/", "403"),
                (host_user, "DELETE", f"/tiny-{os.getpid()}/manifests/sha256:{'0' * 64}", "403"),
                (platform_user, "GET", "/_catalog", "403")):
            auth = ["-u", user] if user else []
            code = subprocess.run(["nsenter", netns, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                   "-X", method, *auth, front + path], capture_output=True, text=True).stdout
            assert code == expected, (method, path, user == host_user, code)
        # Key-only: a key the host does not know is refused.
        stranger = tmp_path / "stranger"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
        refused = ssh(home, "10.213.9.11", "true", key=stranger)
        assert refused.returncode == 255 and "Permission denied" in refused.stderr
        again = subprocess.run([*DEISCTL, "cluster", "up", "--hosts", "2"], env=env, capture_output=True,
                               text=True, timeout=300)
        assert again.returncode == 0, again.stderr  # idempotent
    finally:
        down = subprocess.run([*DEISCTL, "cluster", "down"], env=env, capture_output=True, text=True, timeout=300)
        stop_pid(registry.pid)
        docker_client.images.remove(image)
    assert down.returncode == 0 and "removed h1, h2" in down.stdout, down.stdout + down.stderr
    port = env["DEIS_REGISTRY_PORT"]
    leftovers = subprocess.run(["pgrep", "-f", f"socat TCP-LISTEN:{port},|nginx -p {home}"], capture_output=True,
                               text=True).stdout
    assert leftovers == "", "registry forwarders left running"
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert cluster.cluster_id(home) not in netns
    assert subprocess.run(["ip", "link", "show", f"dbr-{cluster.cluster_id(home)}"],
                          capture_output=True).returncode != 0
