#!/usr/bin/env bash
# Set up this machine for the platform, then bring it up or run the tests.
#   sudo ./bootstrap.sh up     install, start the platform, register a demo user, push a first app
#   sudo ./bootstrap.sh test   install, start the daemons the tests need, run the whole test suite
#   sudo ./bootstrap.sh install  only (re)install the platform from this checkout into the venv
# Idempotent: packages, the venv (cached outside the repo) and running daemons are reused.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${DEIS_VENV:-$HOME/.cache/deis/venv}"
APT_PACKAGES=(docker.io docker-registry redis-server nginx postgresql debootstrap openssh-client
              openssh-server git iproute2 wrk ca-certificates python3-venv socat)

log() { printf '\033[1m-----> %s\033[0m\n' "$*"; }

install_packages() {
    local missing=()
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if ((${#missing[@]})); then
        log "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # Debian's postinst scripts try to start services; we start our own copies instead.
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        rm -f /usr/sbin/policy-rc.d
    fi
}

# The platform goes into the venv as a regular package, not an editable one: the running platform
# does not depend on the checkout. Each run installs the checkout as it is now (about 2 s; the
# dependencies only when pyproject.toml changed), so the venv always runs the current code.
install_python() {
    if [[ ! -x "$VENV/bin/python" ]]; then
        log "creating the virtualenv $VENV"
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install -q --upgrade pip
    fi
    # Built from a copy: an in-tree build would leave build/ in the checkout, and a file deleted from
    # the checkout would live on there and in every later install.
    local src
    src=$(mktemp -d)
    trap 'rm -rf "$src"' EXIT
    tar -C "$ROOT" --exclude=./.git --exclude=__pycache__ --exclude='*.egg-info' --exclude=./build \
        --exclude=./dist --exclude=./tests --exclude=./examples --exclude=./bench -cf - . | tar -C "$src" -xf -
    local stamp="$VENV/.deis-installed"
    if [[ ! -f "$stamp" || "$ROOT/pyproject.toml" -nt "$stamp" ]]; then
        log "installing the platform and its dependencies into $VENV"
        # The build backend lives in the venv, so later installs build without an isolated environment.
        local requires
        mapfile -t requires < <("$VENV/bin/python" -c 'import sys, tomllib
print(*tomllib.load(open(sys.argv[1], "rb"))["build-system"]["requires"], sep="\n")' "$ROOT/pyproject.toml")
        "$VENV/bin/pip" install -q "${requires[@]}"
        "$VENV/bin/pip" install -q --no-build-isolation "$src[test]"
        touch "$stamp"
    else
        "$VENV/bin/pip" install -q --no-build-isolation --no-deps --force-reinstall "$src"
    fi
    rm -rf "$src"
    trap - EXIT
}

start_dockerd() {
    if docker info >/dev/null 2>&1; then return; fi
    log "starting dockerd"
    mkdir -p /var/log
    nohup dockerd >/var/log/deis-dockerd.log 2>&1 &
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && return
        sleep 0.5
    done
    echo "dockerd did not start; see /var/log/deis-dockerd.log" >&2
    tail -20 /var/log/deis-dockerd.log >&2
    exit 1
}

setup() {
    install_packages
    install_python
    start_dockerd
    export PATH="$VENV/bin:$PATH"
}

cmd_up() {
    setup
    deisctl up
    local url="http://127.0.0.1:${DEIS_CONTROLLER_PORT:-8000}"
    local router_port="${DEIS_ROUTER_PORT:-80}" domain="${DEIS_DOMAIN:-deis.localhost}"
    if ! deis whoami >/dev/null 2>&1; then
        log "registering the first user (admin): demo / demo-password"
        deis register "$url" --username demo --password demo-password --email demo@example.com ||
            deis login "$url" --username demo --password demo-password
    fi
    mkdir -p -m 700 "$HOME/.ssh"
    [[ -f "$HOME/.ssh/id_ed25519" ]] || ssh-keygen -q -t ed25519 -N "" -f "$HOME/.ssh/id_ed25519"
    # Add this machine's key unless it is registered already (it may have been re-created since a
    # run before, under the same comment: name it after its fingerprint).
    local fingerprint
    fingerprint=$(ssh-keygen -lf "$HOME/.ssh/id_ed25519.pub" | awk '{print $2}')
    if ! deis keys | grep -qF "$fingerprint"; then
        deis keys:add "$HOME/.ssh/id_ed25519.pub" --id "$(hostname -s)-$(tr -dc 'A-Za-z0-9' <<<"${fingerprint#SHA256:}" | cut -c1-8)"
    fi

    # The first app: a copy of examples/python-web, pushed with git like any app.
    local work="${DEIS_EXAMPLE_DIR:-$HOME/deis-example}"
    if [[ ! -d "$work/.git" ]]; then
        cp -r "$ROOT/examples/python-web" "$work"
        git -C "$work" init -q -b master
        git -C "$work" add -A
        git -C "$work" -c user.name=demo -c user.email=demo@example.com commit -q -m "first commit"
    fi
    (cd "$work" && { git remote get-url deis >/dev/null 2>&1 || deis create hello; })
    log "git push deis master (from $work)"
    GIT_SSH_COMMAND="ssh -i $HOME/.ssh/id_ed25519 -o StrictHostKeyChecking=accept-new" git -C "$work" push deis master
    log "the first app answers through the router:"
    # (after a reboot, the reconcile loop may need a few seconds to bring the app's containers back)
    local tries=0
    until curl -fsS --max-time 10 -H "Host: hello.$domain" "http://127.0.0.1:$router_port/"; do
        (( ++tries < 30 )) || { log "hello does not answer; see deis ps and deis logs in $work"; return 1; }
        sleep 1
    done
    log "the platform is up; try:"
    echo "    export PATH=$VENV/bin:\$PATH"
    echo "    cd $work && deis config:set GREETING=hi && deis scale web=2 && deis ps && deis releases && deis logs"
}

cmd_test() {
    setup
    cd "$ROOT"
    "$VENV/bin/python" -m pytest -q "$@"
}

case "${1:-}" in
    install) install_packages; install_python ;;
    up) shift; cmd_up "$@" ;;
    test) shift; cmd_test "$@" ;;
    *) echo "usage: $0 up | test [pytest args] | install" >&2; exit 2 ;;
esac
