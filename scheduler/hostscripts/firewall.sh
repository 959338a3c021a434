#!/usr/bin/env bash
# Close a host to its app containers: one rule set for the platform's machine (`deisctl up`), the
# namespace hosts of `deisctl cluster up` and the Vagrant VMs (both through provision.sh). Run as
# root; idempotent; platforms sharing a machine each add their router ports (`--remove` takes them
# out again when a platform stops).
#
#   firewall.sh [--remove] --router-ports PORT[,PORT...] --platform-net CIDR
#
# App containers sit on bridges named dapp* (scheduler/networks.py BRIDGE_PREFIX), one per app.
# - INPUT from them jumps to DEIS-ISOLATION: replies to connections the host opened (the router and
#   health checks reaching containers) pass, new connections only to the router ports; everything
#   else is refused: controller, builder, sshd, Redis, registry, the engine's API.
# - FORWARD from them (DOCKER-USER) jumps to DEIS-ISOLATION-FWD: nothing to the platform's private
#   network (--platform-net: the hosts' sshd and published ports, the platform machine's services)
#   but the router ports. Other apps' containers on the same host are unreachable already: Docker
#   drops traffic between its bridges.
set -euo pipefail

usage() { echo "usage: $0 [--remove] --router-ports PORT[,PORT...] --platform-net CIDR" >&2; exit 2; }

BRIDGES="dapp+"
ROUTER_PORTS="" PLATFORM_NET="" REMOVE=0
while (($#)); do
    case "$1" in
        --router-ports) ROUTER_PORTS="$2"; shift 2 ;;
        --platform-net) PLATFORM_NET="$2"; shift 2 ;;
        --remove) REMOVE=1; shift ;;
        *) usage ;;
    esac
done
[[ "$ROUTER_PORTS" =~ ^[0-9]{1,5}(,[0-9]{1,5})*$ ]] || usage
[[ "$PLATFORM_NET" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$ ]] || usage

ipt() { iptables -w 10 "$@"; }
# ensure CHAIN -I|-A RULE...: add the rule (at the top or the end) unless it is there already.
ensure() { local chain=$1 where=$2; shift 2; ipt -C "$chain" "$@" 2>/dev/null || ipt "$where" "$chain" "$@"; }
# drop CHAIN RULE...: delete the rule if it is there.
drop() { local chain=$1; shift; while ipt -C "$chain" "$@" 2>/dev/null; do ipt -D "$chain" "$@"; done; }

IFS=, read -ra PORTS <<<"$ROUTER_PORTS"

if ((REMOVE)); then
    for port in "${PORTS[@]}"; do
        drop DEIS-ISOLATION -p tcp --dport "$port" -j ACCEPT
        drop DEIS-ISOLATION-FWD -d "$PLATFORM_NET" -p tcp --dport "$port" -j RETURN
    done
    exit 0
fi

for chain in DEIS-ISOLATION DEIS-ISOLATION-FWD DOCKER-USER; do
    ipt -N "$chain" 2>/dev/null || true
done
# The refusals go last (appended once); what passes is inserted above them.
ensure DEIS-ISOLATION -A -j REJECT --reject-with icmp-port-unreachable
ensure DEIS-ISOLATION-FWD -A -d "$PLATFORM_NET" -j REJECT --reject-with icmp-port-unreachable
for port in "${PORTS[@]}"; do
    ensure DEIS-ISOLATION -I -p tcp --dport "$port" -j ACCEPT
    ensure DEIS-ISOLATION-FWD -I -d "$PLATFORM_NET" -p tcp --dport "$port" -j RETURN
done
ensure DEIS-ISOLATION -I -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
ensure DEIS-ISOLATION-FWD -I -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
ensure INPUT -I -i "$BRIDGES" -j DEIS-ISOLATION
ensure DOCKER-USER -I -i "$BRIDGES" -j DEIS-ISOLATION-FWD
