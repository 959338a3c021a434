"""Render the router's two nginx configurations (pure).

The router is two nginx masters. The *edge* listens on the router port and holds the clients'
connections; its configuration never depends on routes, so it is never reloaded. It passes every
request over keep-alive connections to the *routing* tier, which matches hostnames to apps and
proxies to their containers; that one is re-rendered and reloaded gracefully on every change.

Why two: a reload makes the old workers close their idle keep-alive connections at once, and a
client that sent its next request on one at that moment gets a reset. Between the two tiers that
race is harmless, because nginx retries a request that fails on a cached upstream connection.
Requests with a body are streamed (never retried, never written to disk); requests without one
are retried. Both masters run with the router prefix as their working directory, where the
routing tier's unix socket lives (a relative path: never too long for a socket address).

Without an edge (a router whose nginx is started directly, ``nginx -p PREFIX -c PREFIX/nginx.conf``),
the routing tier listens on the router port itself and sets the forwarded headers: it works, but
clients can see that reset during reloads.

Paths are relative to the nginx prefix (``nginx -p PREFIX``), so the same text works for any
platform home. Values come only from validated :class:`~router.routes.Route` objects.
"""
from __future__ import annotations

import ipaddress
from typing import Iterable

from router.routes import Route, check_conflicts

# Relative to the masters' working directory, the router prefix; nginx makes the socket 0666, so its
# directory is what admits the edge's workers and no one else (router.nginx.socket_dir).
ROUTING_SOCKET = "sock/routing.sock"
# Passive failover: a server that fails this many times within FAIL_TIMEOUT is skipped for FAIL_TIMEOUT.
MAX_FAILS = 3
FAIL_TIMEOUT = "10s"
UPSTREAM_KEEPALIVE = 64
EDGE_KEEPALIVE = 256
# nginx's server-name hash: its defaults (64-byte buckets, at most 512 of them) refuse to start with a
# name of more than 46 characters, so both are sized from the names served (see server_names_hash).
NAMES_HASH_MIN_BUCKET = 64
NAMES_HASH_MIN_SIZE = 512

NOT_FOUND_PAGE = ("<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1>"
                  "<p>No application is configured for this hostname.</p></body></html>\\n")


def unavailable_page(app: str) -> str:
    return (f"<html><head><title>503 Service Unavailable</title></head><body><h1>503 Service Unavailable</h1>"
            f"<p>Application {app} has no running web processes.</p></body></html>\\n")


def server_names_hash(hostnames: Iterable[str]) -> tuple[int, int]:
    """``(server_names_hash_bucket_size, server_names_hash_max_size)`` for a routing tier serving
    ``hostnames``.

    nginx stores each name in a bucket as a pointer plus the name and two bytes, aligned to 8, and
    ends each bucket with a pointer; a name that does not fit one bucket is an error ("could not
    build server_names_hash"), and buckets that overflow at every table size up to the maximum only
    a warning. So a bucket (a power of two, at least nginx's 64) holds the longest name, or four
    names of average length if that is more, and the table may grow to twice as many buckets as
    names (at least 512): that builds without a warning for thousands of names, a 253-character
    one among them. Only the names present take memory, whatever the bucket size.
    """
    entries = [8 + (len(name) + 2 + 7) // 8 * 8 for name in hostnames]
    if not entries:
        return NAMES_HASH_MIN_BUCKET, NAMES_HASH_MIN_SIZE
    bucket = _power_of_two(max(max(entries), 4 * sum(entries) / len(entries)) + 8, NAMES_HASH_MIN_BUCKET)
    return bucket, _power_of_two(2 * len(entries), NAMES_HASH_MIN_SIZE)


def _power_of_two(at_least: float, minimum: int) -> int:
    size = minimum
    while size < at_least:
        size *= 2
    return size


def upstream_name(app: str) -> str:
    return f"deis_app_{app}"


def _check_workers(worker_processes) -> None:
    if worker_processes != "auto" and (not isinstance(worker_processes, int) or worker_processes < 1):
        raise ValueError(f"worker_processes must be 'auto' or a positive integer, got {worker_processes!r}")


def _head(worker_processes, access_log: str) -> str:
    """Settings both tiers share. Request bodies stay in memory or are streamed, and responses are
    never spilled to disk: workers may not be allowed to write under the platform home."""
    return f"""# Rendered by router.nginxconf; do not edit: every change is overwritten on the next update.
worker_processes {worker_processes};
pid nginx.pid;
error_log logs/error.log warn;

events {{
    worker_connections 4096;
    multi_accept on;
}}

http {{
    server_tokens off;
    default_type application/octet-stream;
    log_format deis '$remote_addr - [$time_local] "$host" "$request" $status $body_bytes_sent '
                    '$request_time "$upstream_addr" $upstream_response_time';
    {access_log}

    client_body_temp_path temp/body;
    proxy_temp_path temp/proxy;
    fastcgi_temp_path temp/fastcgi;
    uwsgi_temp_path temp/uwsgi;
    scgi_temp_path temp/scgi;
    proxy_max_temp_file_size 0;

    keepalive_timeout 65s;
    keepalive_requests 100000;
    sendfile on;
    tcp_nodelay on;

    # WebSocket upgrade when the client asks for it; otherwise an empty Connection keeps upstream keepalive.
    map $http_upgrade $deis_connection {{
        default upgrade;
        "" "";
    }}
    # Requests with a body go to the streaming location (see _proxy).
    map "$http_content_length$http_transfer_encoding" $deis_has_body {{
        "" "";
        default 1;
    }}

    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $deis_connection;
"""


# Where clients connect (the edge, or a routing tier without one), the forwarded headers are made...
_FORWARDED_HEADERS = """    # Keep the client's scheme when a trusted load balancer in front already set it.
    map $http_x_forwarded_proto $deis_forwarded_proto {
        default $http_x_forwarded_proto;
        "" $scheme;
    }
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $deis_forwarded_proto;
    proxy_set_header X-Forwarded-Port $server_port;
    proxy_set_header X-Real-IP $remote_addr;
"""
# ...and behind the edge, the only client, they are passed on, with the client's address taken from it.
_EDGE_HEADERS = """    set_real_ip_from unix:;
    real_ip_header X-Real-IP;
    proxy_set_header X-Forwarded-For $http_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $http_x_forwarded_proto;
    proxy_set_header X-Forwarded-Port $http_x_forwarded_port;
    proxy_set_header X-Real-IP $remote_addr;
"""


def _proxy(upstream: str, indent: str) -> str:
    """Two locations: without a body a request is buffered, so a failure on a cached keep-alive
    connection is retried; with one it is streamed (nginx never retries those after sending)."""
    return f"""{indent}location / {{
{indent}    error_page 418 = @deis_body;
{indent}    if ($deis_has_body) {{
{indent}        return 418;
{indent}    }}
{indent}    proxy_pass http://{upstream};
{indent}}}
{indent}location @deis_body {{
{indent}    proxy_request_buffering off;
{indent}    proxy_pass http://{upstream};
{indent}}}
"""


def render_edge(listen_port: int, address: str = "0.0.0.0", worker_processes: int | str = "auto") -> str:
    """The edge: clients' connections on ``address:listen_port``, all passed to the routing tier."""
    listen = listen_address(listen_port, address)
    _check_workers(worker_processes)
    return _head(worker_processes, "access_log off;") + f"""
    client_max_body_size 0;  # each app's limit is applied by the routing tier
    client_body_buffer_size 16k;
    proxy_buffering off;
{_FORWARDED_HEADERS}    proxy_set_header Host $host;
    proxy_connect_timeout 5s;
    proxy_read_timeout 3600s;  # each app's timeouts are applied by the routing tier
    proxy_send_timeout 3600s;
    proxy_next_upstream error;

    upstream deis_routing {{
        server unix:{ROUTING_SOCKET} max_fails=0;
        keepalive {EDGE_KEEPALIVE};
        keepalive_requests 100000;
        keepalive_timeout 30s;  # shorter than the routing tier's, so the edge closes idle ones first
    }}

    server {{
        listen {listen} default_server backlog=4096;
        server_name _;
{_proxy("deis_routing", " " * 8)}    }}
}}
"""


def listen_address(port: int, address: str = "0.0.0.0") -> str:
    """``address:port`` for a ``listen`` directive (IPv6 in brackets), validated."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError(f"listen port must be 1-65535, got {port!r}")
    return f"[{address}]:{port}" if ipaddress.ip_address(address).version == 6 else f"{address}:{port}"


def render(routes: Iterable[Route], worker_processes: int | str = "auto", access_log: bool = True,
           listen: str | None = None) -> str:
    """The routing tier serving ``routes``: on the unix socket the edge passes requests to, or with
    ``listen`` (from :func:`listen_address`) straight on the router port, without an edge."""
    routes = sorted(routes, key=lambda r: r.app)
    check_conflicts(routes)
    _check_workers(worker_processes)
    log_line = "access_log logs/access.log deis buffer=64k flush=1s;" if access_log else "access_log off;"
    headers = _FORWARDED_HEADERS if listen else _EDGE_HEADERS
    listen = listen or f"unix:{ROUTING_SOCKET}"
    bucket_size, max_size = server_names_hash(h for route in routes for h in route.hostnames)
    parts = [_head(worker_processes, log_line), f"""
    client_body_buffer_size 16k;
    server_names_hash_bucket_size {bucket_size};
    server_names_hash_max_size {max_size};
{headers}    proxy_set_header Host $host;
    proxy_next_upstream error timeout;
    proxy_next_upstream_tries 3;

    server {{
        listen {listen} default_server;
        server_name _;
        location / {{
            default_type text/html;
            return 404 "{NOT_FOUND_PAGE}";
        }}
    }}
"""]
    for route in routes:
        parts.append(_app(route, listen))
    parts.append("}\n")
    return "".join(parts)


def _app(route: Route, listen: str) -> str:
    settings = route.settings
    names = " ".join(route.hostnames)
    head = f"""
    # app {route.app}
    server {{
        listen {listen};
        server_name {names};
        client_max_body_size {settings.max_body_size};
"""
    if not route.upstreams:
        return head + f"""        location / {{
            default_type text/html;
            return 503 "{unavailable_page(route.app)}";
        }}
    }}
"""
    servers = "".join(f"        server {u} max_fails={MAX_FAILS} fail_timeout={FAIL_TIMEOUT};\n"
                      for u in route.upstreams)
    upstream = f"""
    upstream {upstream_name(route.app)} {{
{servers}        keepalive {UPSTREAM_KEEPALIVE};
    }}
"""
    return upstream + head + f"""        proxy_connect_timeout {settings.connect_timeout};
        proxy_read_timeout {settings.read_timeout};
        proxy_send_timeout {settings.send_timeout};
{_proxy(upstream_name(route.app), " " * 8)}    }}
"""
