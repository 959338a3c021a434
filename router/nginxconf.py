"""Render the whole nginx configuration of the router from routes (pure).

Paths are relative to the nginx prefix (``nginx -p PREFIX``), so the same text works for any
platform home. Values come only from validated :class:`~router.routes.Route` objects.
"""
from __future__ import annotations

import ipaddress
from typing import Iterable

from router.routes import Route, check_conflicts

# Passive failover: a server that fails this many times within FAIL_TIMEOUT is skipped for FAIL_TIMEOUT.
MAX_FAILS = 3
FAIL_TIMEOUT = "10s"
UPSTREAM_KEEPALIVE = 64

NOT_FOUND_PAGE = ("<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1>"
                  "<p>No application is configured for this hostname.</p></body></html>\\n")


def unavailable_page(app: str) -> str:
    return (f"<html><head><title>503 Service Unavailable</title></head><body><h1>503 Service Unavailable</h1>"
            f"<p>Application {app} has no running web processes.</p></body></html>\\n")


def upstream_name(app: str) -> str:
    return f"deis_app_{app}"


def render(routes: Iterable[Route], listen_port: int, listen_address: str = "0.0.0.0",
           worker_processes: int | str = "auto", access_log: bool = True) -> str:
    """Return the nginx.conf text serving ``routes`` on ``listen_port``."""
    routes = sorted(routes, key=lambda r: r.app)
    check_conflicts(routes)
    if not isinstance(listen_port, int) or not 0 < listen_port < 65536:
        raise ValueError(f"listen port must be 1-65535, got {listen_port!r}")
    if ipaddress.ip_address(listen_address).version == 6:
        listen_address = f"[{listen_address}]"
    if worker_processes != "auto" and (not isinstance(worker_processes, int) or worker_processes < 1):
        raise ValueError(f"worker_processes must be 'auto' or a positive integer, got {worker_processes!r}")
    listen = f"{listen_address}:{listen_port}"
    parts = [_main(listen, worker_processes, access_log)]
    for route in routes:
        parts.append(_app(route, listen))
    parts.append("}\n")
    return "".join(parts)


def _main(listen: str, worker_processes, access_log: bool) -> str:
    log_line = ("access_log logs/access.log deis buffer=64k flush=1s;" if access_log else "access_log off;")
    return f"""# Rendered by router.nginxconf; do not edit: every change is overwritten on the next update.
worker_processes {worker_processes};
pid nginx.pid;
error_log logs/error.log warn;

events {{
    worker_connections 4096;
}}

http {{
    server_tokens off;
    default_type application/octet-stream;
    log_format deis '$remote_addr - [$time_local] "$host" "$request" $status $body_bytes_sent '
                    '$request_time "$upstream_addr" $upstream_response_time';
    {log_line}

    client_body_temp_path temp/body;
    proxy_temp_path temp/proxy;
    fastcgi_temp_path temp/fastcgi;
    uwsgi_temp_path temp/uwsgi;
    scgi_temp_path temp/scgi;
    # Workers may not be able to write temp files: stream request bodies, never spill responses to disk.
    proxy_request_buffering off;
    proxy_max_temp_file_size 0;

    keepalive_timeout 65s;
    sendfile on;
    tcp_nodelay on;

    # WebSocket upgrade when the client asks for it; otherwise an empty Connection keeps upstream keepalive.
    map $http_upgrade $deis_connection {{
        default upgrade;
        "" "";
    }}
    # Keep the client's scheme when a trusted load balancer in front already set it.
    map $http_x_forwarded_proto $deis_forwarded_proto {{
        default $http_x_forwarded_proto;
        "" $scheme;
    }}

    proxy_http_version 1.1;
    proxy_set_header Host $host;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $deis_connection;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $deis_forwarded_proto;
    proxy_set_header X-Forwarded-Port $server_port;
    proxy_set_header X-Real-IP $remote_addr;
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
"""


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
        location / {{
            proxy_pass http://{upstream_name(route.app)};
        }}
    }}
"""
