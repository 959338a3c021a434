import pytest

from router.errors import HostnameConflict, InvalidRoute
from router.routes import make_route, make_settings, route_from_dict, upsert, without


def test_make_route_normalizes_settings_and_dedupes():
    route = make_route("web-app", ["web-app.deis.test", "www.example.com", "web-app.deis.test"],
                       ["127.0.0.1:32768", "10.0.0.2:80"], {"max_body_size": "20M", "read_timeout": 30,
                                                            "connect_timeout": "500ms"})
    assert route.hostnames == ("web-app.deis.test", "www.example.com")
    assert route.settings.max_body_size == "20m"
    assert route.settings.read_timeout == "30s"
    assert route.settings.connect_timeout == "500ms"
    assert route.settings.send_timeout == "60s"
    assert route_from_dict(route.as_dict()) == route


@pytest.mark.parametrize("hostname", ["Foo.example.com", "foo..com", "-foo.com", "foo.com;", "a b.com",
                                      "foo.com\n", "x" * 64 + ".com", "", "foo.com}"])
def test_bad_hostnames_are_rejected(hostname):
    with pytest.raises(InvalidRoute) as info:
        make_route("app", [hostname])
    assert info.value.field == "hostname"


def test_wildcard_hostname_is_accepted():
    assert make_route("app", ["*.example.com"]).hostnames == ("*.example.com",)


@pytest.mark.parametrize("upstream", ["127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "127.0.0.1:80;",
                                      "unix:/tmp/x.sock", "127.0.0.1:80 backup", ""])
def test_bad_upstreams_are_rejected(upstream):
    with pytest.raises(InvalidRoute):
        make_route("app", ["app.deis.test"], [upstream])


@pytest.mark.parametrize("settings", [
    {"max_body_size": "10x"}, {"max_body_size": "11g"}, {"max_body_size": "1m; evil"},
    {"read_timeout": "0"}, {"read_timeout": "2h"}, {"read_timeout": -1}, {"read_timeout": True},
    {"connect_timeout": "76s"}, {"send_timeout": "1s\n"}, {"proxy_pass": "http://evil"},
])
def test_bad_settings_are_rejected(settings):
    with pytest.raises(InvalidRoute):
        make_settings("app", settings)


def test_bad_app_name_is_rejected():
    for name in ["App", "a_b", "a-", "", "a" * 64, "a;b"]:
        with pytest.raises(InvalidRoute):
            make_route(name, ["x.deis.test"])


def test_an_app_needs_a_hostname():
    with pytest.raises(InvalidRoute):
        make_route("app", [])


def test_upsert_replaces_and_blames_the_newcomer_for_conflicts():
    a = make_route("a", ["a.deis.test", "shop.example.com"])
    b = make_route("b", ["b.deis.test"])
    routes = upsert(upsert([], b), a)
    assert [r.app for r in routes] == ["a", "b"]
    with pytest.raises(HostnameConflict) as info:
        upsert(routes, make_route("b", ["b.deis.test", "shop.example.com"]))
    assert info.value.app == "b" and info.value.owner == "a"
    moved = upsert(without(routes, "a"), make_route("b", ["b.deis.test", "shop.example.com"]))
    assert [r.app for r in moved] == ["b"]
