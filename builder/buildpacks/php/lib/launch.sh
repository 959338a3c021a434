# Sourced by heroku-php-apache2 and heroku-php-nginx (in the slug: /app/.heroku/php/bin).
# Runs PHP-FPM and a web server of the run image in the foreground as the current user (uid 1000),
# with every config, pid file, socket and temp dir under /tmp: only /app and /tmp are writable.
# The command lives as long as both do: when either exits, the other is stopped and the command
# exits, so the platform restarts it. SIGTERM stops the web server gracefully (requests in flight
# finish), then PHP-FPM.

HEROKU_PHP_HOME=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
APP_DIR=${HOME:-/app}
SERVER_INCLUDE=""
FPM_INCLUDE=""

die() {
    echo "$COMMAND_NAME: $*" >&2
    exit 1
}

usage() {
    die "usage: $COMMAND_NAME [-C SERVER_CONF] [-F FPM_POOL_CONF] [DOCUMENT_ROOT]  (paths relative to $APP_DIR)"
}

# A path of the app (relative to the app's root, or absolute inside it), resolved and checked;
# only plain characters, as it goes into the server's config.
app_path() {  # WHAT PATH TEST
    local resolved
    resolved=$(cd "$APP_DIR" && realpath -e -- "$2" 2>/dev/null) || die "$1 $2 does not exist in $APP_DIR"
    [[ "$resolved" == "$APP_DIR" || "$resolved" == "$APP_DIR"/* ]] || die "$1 $2 is outside $APP_DIR"
    [[ "$resolved" =~ ^[A-Za-z0-9._/-]+$ ]] || die "$1 $2: only letters, digits and . _ / - are allowed"
    test "$3" "$resolved" || die "$1 $2 is not a $([ "$3" = -d ] && echo directory || echo file)"
    echo "$resolved"
}

parse_args() {  # "$@" of the command, as in Heroku's Procfiles
    local option
    OPTIND=1
    while getopts ":C:F:" option; do
        case "$option" in
            C) SERVER_INCLUDE=$(app_path "server config (-C)" "$OPTARG" -f) || exit 1 ;;
            F) FPM_INCLUDE=$(app_path "PHP-FPM pool config (-F)" "$OPTARG" -f) || exit 1 ;;
            *) usage ;;
        esac
    done
    shift $((OPTIND - 1))
    [ $# -le 1 ] || usage
    [[ "${PORT:-}" =~ ^[0-9]+$ ]] || die "PORT must be set to the port to listen on"
    DOCUMENT_ROOT=$(app_path "document root" "${1:-.}" -d) || exit 1
}

# Workers PHP-FPM may run: WEB_CONCURRENCY, or as many as the container's memory limit holds at
# PHP's default memory_limit (128M), or 8 without a limit.
fpm_workers() {
    local limit
    if [[ "${WEB_CONCURRENCY:-}" =~ ^[1-9][0-9]*$ ]]; then
        echo "$WEB_CONCURRENCY"
        return
    fi
    limit=$(cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null)
    if [[ "$limit" =~ ^[0-9]+$ ]] && [ "$limit" -lt $((1 << 40)) ]; then
        limit=$((limit / (128 << 20)))
        echo $((limit < 1 ? 1 : limit > 32 ? 32 : limit))
    else
        echo 8
    fi
}

# The run dir, and what the config files read from the environment (Apache and PHP-FPM expand
# ${NAME} in their config files themselves).
prepare() {
    RUN_DIR=$(mktemp -d /tmp/heroku-php.XXXXXX) || die "cannot create a directory in /tmp"
    mkdir -p "$RUN_DIR/sessions"
    export HEROKU_PHP_RUN=$RUN_DIR
    export HEROKU_PHP_SOCKET=$RUN_DIR/php-fpm.sock
    export HEROKU_PHP_WORKERS
    HEROKU_PHP_WORKERS=$(fpm_workers)
    export DOCUMENT_ROOT PORT
    # PHP-FPM's include directive needs a file: an empty one when the app has none.
    if [ -z "$FPM_INCLUDE" ]; then
        FPM_INCLUDE=$RUN_DIR/empty-pool.conf
        : > "$FPM_INCLUDE"
    fi
    export HEROKU_PHP_FPM_INCLUDE=$FPM_INCLUDE
}

# The extensions composer.json and composer.lock require (written by the build) must be in this image's
# PHP: else the app stops here with their names rather than failing on some request.
check_extensions() {
    local required=$HEROKU_PHP_HOME/required-extensions loaded extension missing=()
    [ -s "$required" ] || return 0
    loaded=$(php -m | tr 'A-Z ' 'a-z-')  # as composer names them: "Zend OPcache" is ext-zend-opcache
    while read -r extension; do
        grep -qxF -- "$extension" <<<"$loaded" || missing+=("ext-$extension")
    done < "$required"
    [ ${#missing[@]} -eq 0 ] || die "the app requires ${missing[*]}, which PHP $(php -r 'echo PHP_VERSION;') of this image does not have"
}

start_php_fpm() {
    local fpm
    fpm=$(command -v php-fpm || ls /usr/sbin/php-fpm[0-9]* 2>/dev/null | sort -V | tail -n 1)
    [ -n "$fpm" ] || die "php-fpm is not installed in this image"
    echo "$COMMAND_NAME: starting php-fpm ($HEROKU_PHP_WORKERS workers; WEB_CONCURRENCY sets them)" >&2
    "$fpm" --nodaemonize --fpm-config "$HEROKU_PHP_HOME/conf/php-fpm.conf" &
    FPM_PID=$!
    # The web server starts once PHP-FPM accepts connections: no 503 for the first requests.
    local tries
    for tries in $(seq 100); do
        [ -S "$HEROKU_PHP_SOCKET" ] && return
        kill -0 "$FPM_PID" 2>/dev/null || { wait "$FPM_PID"; die "php-fpm exited with status $? at start"; }
        sleep 0.1
    done
    kill -TERM "$FPM_PID"
    die "php-fpm did not open $HEROKU_PHP_SOCKET in 10 s"
}

# Runs the web server (its argument list) and supervises both until either exits.
run_web_server() {  # NAME GRACEFUL_STOP_SIGNAL COMMAND...
    local name=$1 graceful=$2 exited status stopping=""
    shift 2
    echo "$COMMAND_NAME: starting $name on 0.0.0.0:$PORT, document root $DOCUMENT_ROOT" >&2
    "$@" &
    WEB_PID=$!
    # First TERM: graceful (the web server finishes its requests, PHP-FPM follows); a second: at once.
    trap 'if [ -n "$stopping" ]; then kill -TERM "$WEB_PID" "$FPM_PID" 2>/dev/null;
          else stopping=yes; kill -s "$graceful" "$WEB_PID" 2>/dev/null; fi' TERM INT
    while :; do
        exited=""
        wait -n -p exited "$FPM_PID" "$WEB_PID"
        status=$?
        [ -n "$exited" ] && break  # else a trapped signal interrupted the wait
    done
    if [ "$exited" = "$WEB_PID" ]; then
        [ -n "$stopping" ] || echo "$COMMAND_NAME: $name exited with status $status; stopping php-fpm" >&2
        kill -QUIT "$FPM_PID" 2>/dev/null
    else
        echo "$COMMAND_NAME: php-fpm exited with status $status; stopping $name" >&2
        kill -TERM "$WEB_PID" 2>/dev/null
    fi
    wait
    rm -rf "$RUN_DIR"
    if [ -n "$stopping" ]; then
        exit 0
    fi
    exit $((status == 0 ? 1 : status))  # an unasked exit is a failure, whatever the child said
}
