import subprocess

import pytest

from router.errors import HostnameConflict
from router.nginxconf import render
from router.routes import Route, make_route


def _routes():
    return [
        make_route("alpha", ["alpha.deis.test", "www.alpha.com"], ["127.0.0.1:32768", "127.0.0.1:32769"],
                   {"max_body_size": "50m", "read_timeout": "120s"}),
        make_route("idle", ["idle.deis.test"], []),
    ]


def test_render_app_with_upstreams():
    text = render(_routes(), 8080, "127.0.0.1")
    assert "upstream deis_app_alpha {" in text
    assert "server 127.0.0.1:32768 max_fails=3 fail_timeout=10s;" in text
    assert "server 127.0.0.1:32769 max_fails=3 fail_timeout=10s;" in text
    assert "keepalive 64;" in text
    assert "server_name alpha.deis.test www.alpha.com;" in text
    assert "client_max_body_size 50m;" in text
    assert "proxy_read_timeout 120s;" in text
    assert "proxy_next_upstream error timeout;" in text
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in text
    assert "proxy_set_header X-Forwarded-Port $server_port;" in text
    assert "proxy_set_header Host $host;" in text
    assert "map $http_upgrade $deis_connection" in text


def test_default_server_404_and_empty_app_503():
    text = render(_routes(), 8080, "127.0.0.1")
    assert "listen 127.0.0.1:8080 default_server;" in text
    assert "return 404" in text
    idle = text[text.index("# app idle"):]
    assert "return 503" in idle and "Application idle has no running web processes" in idle
    assert "upstream deis_app_idle" not in text


def test_render_is_deterministic_and_sorted():
    assert render(_routes(), 80) == render(list(reversed(_routes())), 80)
    text = render(_routes(), 80)
    assert text.index("# app alpha") < text.index("# app idle")
    assert "listen 0.0.0.0:80;" in text


def test_render_rejects_conflicts_and_bad_ports():
    clash = [make_route("a", ["x.deis.test"]), make_route("b", ["x.deis.test"])]
    with pytest.raises(HostnameConflict):
        render(clash, 80)
    with pytest.raises(ValueError):
        render([], 0)


def test_rendered_config_passes_nginx_check(tmp_path):
    for name in ("logs", "temp"):
        (tmp_path / name).mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(render(_routes() + [Route("empty", ("empty.deis.test",))], 8080, "127.0.0.1"))
    result = subprocess.run(["nginx", "-t", "-q", "-p", f"{tmp_path}/", "-c", str(conf)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
