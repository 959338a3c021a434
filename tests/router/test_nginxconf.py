import subprocess

import pytest

from router.errors import HostnameConflict
from router.nginxconf import render, render_edge, server_names_hash
from router.routes import Route, make_route


def _routes():
    return [
        make_route("alpha", ["alpha.deis.test", "www.alpha.com"], ["127.0.0.1:32768", "127.0.0.1:32769"],
                   {"max_body_size": "50m", "read_timeout": "120s"}),
        make_route("idle", ["idle.deis.test"], []),
    ]


def test_render_app_with_upstreams():
    text = render(_routes())
    assert "upstream deis_app_alpha {" in text
    assert "server 127.0.0.1:32768 max_fails=3 fail_timeout=10s;" in text
    assert "server 127.0.0.1:32769 max_fails=3 fail_timeout=10s;" in text
    assert "keepalive 64;" in text
    assert "server_name alpha.deis.test www.alpha.com;" in text
    assert "client_max_body_size 50m;" in text
    assert "proxy_read_timeout 120s;" in text
    assert "proxy_next_upstream error timeout;" in text
    assert "proxy_set_header X-Forwarded-For $http_x_forwarded_for;" in text  # set by the edge
    assert "set_real_ip_from unix:;" in text
    assert "proxy_set_header Host $host;" in text
    assert "map $http_upgrade $deis_connection" in text
    alpha = text[text.index("# app alpha"):]
    assert "listen unix:sock/routing.sock;" in alpha and "proxy_pass http://deis_app_alpha;" in alpha
    assert "location @deis_body {" in alpha and "proxy_request_buffering off;" in alpha


def test_render_edge_is_independent_of_routes():
    text = render_edge(8080, "127.0.0.1", 2)
    assert "listen 127.0.0.1:8080 default_server backlog=4096;" in text
    assert "worker_processes 2;" in text
    assert "server unix:sock/routing.sock max_fails=0;" in text
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in text
    assert "proxy_set_header X-Forwarded-Port $server_port;" in text
    assert "proxy_set_header X-Real-IP $remote_addr;" in text
    assert "client_max_body_size 0;" in text and "access_log off;" in text
    assert "listen [::1]:80 default_server" in render_edge(80, "::1")
    with pytest.raises(ValueError):
        render_edge(0)
    with pytest.raises(ValueError):
        render_edge(80, "127.0.0.1", 0)


def test_routing_tier_without_edge_listens_on_the_port_and_sets_forwarded_headers():
    text = render(_routes(), listen="127.0.0.1:8080")
    assert "listen 127.0.0.1:8080 default_server;" in text and "unix:" not in text
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in text
    assert "proxy_set_header X-Forwarded-Port $server_port;" in text


def test_default_server_404_and_empty_app_503():
    text = render(_routes())
    assert "listen unix:sock/routing.sock default_server;" in text
    assert "return 404" in text
    idle = text[text.index("# app idle"):]
    assert "return 503" in idle and "Application idle has no running web processes" in idle
    assert "upstream deis_app_idle" not in text


def test_render_is_deterministic_and_sorted():
    assert render(_routes()) == render(list(reversed(_routes())))
    text = render(_routes())
    assert text.index("# app alpha") < text.index("# app idle")


def test_render_rejects_conflicts_and_bad_ports():
    clash = [make_route("a", ["x.deis.test"]), make_route("b", ["x.deis.test"])]
    with pytest.raises(HostnameConflict):
        render(clash)
    with pytest.raises(ValueError):
        render([], worker_processes=-1)


def test_rendered_config_passes_nginx_check(tmp_path):
    for name in ("logs", "temp", "sock"):
        (tmp_path / name).mkdir()
    for text in (render(_routes() + [Route("empty", ("empty.deis.test",))]), render_edge(8080, "127.0.0.1")):
        conf = tmp_path / "nginx.conf"
        conf.write_text(text)
        result = subprocess.run(["nginx", "-t", "-q", "-p", f"{tmp_path}/", "-c", str(conf)],
                                capture_output=True, text=True, cwd=tmp_path)
        assert result.returncode == 0, result.stderr


def longest_domain(suffix: str = "test") -> str:
    """A 253-character domain (the DNS maximum) of labels of at most 63 characters."""
    labels = ["a" * 63, "b" * 63, "c" * 63]
    labels.append("d" * (253 - sum(len(label) + 1 for label in labels) - len(suffix) - 1))
    name = ".".join([*labels, suffix])
    assert len(name) == 253
    return name


def test_server_names_hash_is_sized_from_the_names():
    assert server_names_hash([]) == (64, 512)  # nginx's defaults
    # A bucket holds the longest name (8 + 256 bytes for 253 characters, plus its end pointer)...
    assert server_names_hash([longest_domain()] + [f"app{i}.deis.localhost" for i in range(100)]) == (512, 512)
    # ...and four names of average length; the table may have twice as many buckets as names.
    assert server_names_hash(f"app{i}.deis.localhost" for i in range(3000)) == (256, 8192)
    assert server_names_hash(["a" * 46]) == (256, 512)
    text = render([make_route("a" * 40, ["a" * 40 + ".deis.localhost", longest_domain()])])
    assert "server_names_hash_bucket_size 1024;" in text and "server_names_hash_max_size 512;" in text


def test_longest_names_and_many_apps_pass_nginx_without_warnings(tmp_path):
    from deiscore.validation import APP_NAME_MAX

    for name in ("logs", "temp", "sock"):
        (tmp_path / name).mkdir()
    longest_app = "x" * APP_NAME_MAX
    cases = {
        "longest app name": [make_route(longest_app, [f"{longest_app}.deis.localhost"], ["127.0.0.1:32768"])],
        "longest domain": [make_route("shop", ["shop.deis.localhost", longest_domain(), "*.shop.test"],
                                      ["127.0.0.1:32768"])],
        "2000 apps and both": [make_route(name, [f"{name}.deis.localhost"], ["127.0.0.1:32768"])
                               for name in (f"app{i:04d}{'y' * (i % 30)}" for i in range(2000))]
                              + [make_route(longest_app, [f"{longest_app}.deis.localhost", longest_domain()])],
    }
    for case, routes in cases.items():
        conf = tmp_path / "nginx.conf"
        conf.write_text(render(routes))
        result = subprocess.run(["nginx", "-t", "-p", f"{tmp_path}/", "-c", str(conf)], capture_output=True,
                                text=True, cwd=tmp_path)
        assert result.returncode == 0, f"{case}: {result.stderr}"
        assert "server_names_hash" not in result.stderr, f"{case}: {result.stderr}"
