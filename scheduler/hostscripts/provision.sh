#!/usr/bin/env bash
# Provision one CoreOS-like host: a Docker Engine reachable over SSH with key-only auth.
# The same script sets up a Vagrant VM and a network-namespace host of `deisctl cluster up`.
#
#   provision.sh --name NAME --state DIR --run DIR --address ADDR --bip CIDR --registry HOST:PORT --authorized-key FILE
#                [--router-ports PORT[,PORT...] --platform-net CIDR]
#
# It writes the engine's and sshd's configuration under --state (sockets and pid files under the
# short --run directory: unix socket paths are limited to about 100 bytes), then starts `dockerd` (own data
# root, exec root and socket) and `sshd` (listening on --address only) in the background, with
# pid files. sshd's SetEnv DOCKER_HOST points SSH sessions at this host's engine, so the platform
# reaches it with the docker SDK's ssh:// transport. Images are pulled from the platform's private
# registry under the same name as on the platform's machine (127.0.0.1:PORT/app:sha): socat
# forwards this host's loopback port to --registry (the platform's private address), and engines
# trust registries on loopback without TLS. Last, firewall.sh (next to this script) closes the host to
# its app containers: from them, only the router ports on the platform's private network (--platform-net).
set -euo pipefail

usage() { echo "usage: $0 --name NAME --state DIR --run DIR --address ADDR --bip CIDR --registry HOST:PORT --authorized-key FILE [--router-ports PORTS] [--platform-net CIDR] [--install]" >&2; exit 2; }

NAME="" STATE="" RUN="" ADDRESS="" BIP="" REGISTRY="" AUTHORIZED_KEY="" INSTALL=0 ROUTER_PORTS=80 PLATFORM_NET=10.213.0.0/24
while (($#)); do
    case "$1" in
        --name) NAME="$2"; shift 2 ;;
        --state) STATE="$2"; shift 2 ;;
        --run) RUN="$2"; shift 2 ;;
        --address) ADDRESS="$2"; shift 2 ;;
        --bip) BIP="$2"; shift 2 ;;
        --registry) REGISTRY="$2"; shift 2 ;;
        --authorized-key) AUTHORIZED_KEY="$2"; shift 2 ;;
        --router-ports) ROUTER_PORTS="$2"; shift 2 ;;
        --platform-net) PLATFORM_NET="$2"; shift 2 ;;
        --install) INSTALL=1; shift ;;
        *) usage ;;
    esac
done
[[ -n "$NAME" && -n "$STATE" && -n "$RUN" && -n "$ADDRESS" && -n "$BIP" && -n "$REGISTRY" && -f "$AUTHORIZED_KEY" ]] || usage
[[ "$NAME" =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] || { echo "bad host name: $NAME" >&2; exit 2; }

if ((INSTALL)); then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends docker.io openssh-server iproute2 socat iptables >/dev/null
fi

mkdir -p "$STATE"/{docker,ssh,logs} "$RUN/exec"
chmod 700 "$STATE/ssh"
SOCKET="$RUN/docker.sock"

cat >"$STATE/daemon.json" <<EOF
{
  "data-root": "$STATE/docker",
  "exec-root": "$RUN/exec",
  "pidfile": "$RUN/dockerd.pid",
  "hosts": ["unix://$SOCKET"],
  "bip": "$BIP",
  "labels": ["deis.host=$NAME"]
}
EOF

[[ -f "$STATE/ssh/ssh_host_ed25519_key" ]] || ssh-keygen -q -t ed25519 -N "" -f "$STATE/ssh/ssh_host_ed25519_key"
install -m 600 "$AUTHORIZED_KEY" "$STATE/ssh/authorized_keys"
cat >"$STATE/ssh/sshd_config" <<EOF
ListenAddress $ADDRESS
Port 22
HostKey $STATE/ssh/ssh_host_ed25519_key
PidFile $RUN/sshd.pid
AuthorizedKeysFile $STATE/ssh/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
# The platform opens one SSH channel per concurrent engine call, and several processes connect at once.
MaxSessions 128
MaxStartups 64:30:256
SetEnv DOCKER_HOST=unix://$SOCKET
EOF

running() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

if ! running "$RUN/dockerd.pid"; then
    nohup dockerd --config-file "$STATE/daemon.json" >"$STATE/logs/dockerd.log" 2>&1 &
fi
for _ in $(seq 1 100); do
    DOCKER_HOST="unix://$SOCKET" docker version >/dev/null 2>&1 && break
    sleep 0.2
done
DOCKER_HOST="unix://$SOCKET" docker version >/dev/null 2>&1 || { tail -20 "$STATE/logs/dockerd.log" >&2; exit 1; }

mkdir -p /run/sshd
if ! running "$RUN/sshd.pid"; then
    /usr/sbin/sshd -f "$STATE/ssh/sshd_config" -E "$STATE/logs/sshd.log"
fi
if ! running "$RUN/registry-forward.pid"; then
    nohup socat "TCP-LISTEN:${REGISTRY##*:},bind=127.0.0.1,fork,reuseaddr" "TCP:$REGISTRY" \
        >"$STATE/logs/registry-forward.log" 2>&1 &
    echo $! >"$RUN/registry-forward.pid"
fi
bash "$(dirname "$(readlink -f "$0")")/firewall.sh" --router-ports "$ROUTER_PORTS" --platform-net "$PLATFORM_NET"
echo "$NAME: docker engine at unix://$SOCKET, sshd on $ADDRESS:22, app containers firewalled"
