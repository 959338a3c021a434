"""controller.validation: names are full-matched and rejected, never rewritten."""
from __future__ import annotations

import pytest

from controller import validation
from controller.errors import BadRequest


@pytest.mark.parametrize("name", ["a", "myapp", "my-app", "app-2", "a1-b2-c3", "x" * 40, "9lives"])
def test_app_name_accepts(name):
    assert validation.app_name(name) == name


@pytest.mark.parametrize("name", [
    "", "MyApp", "my_app", "my.app", "-app", "app-", "my--app", "my app", "app\n", " app", "x" * 41,
    "caf\u00e9", None, 42, ["app"],
])
def test_app_name_refuses(name):
    with pytest.raises(BadRequest, match="invalid app name"):
        validation.app_name(name)


@pytest.mark.parametrize("name", sorted(validation.RESERVED_APP_NAMES))
def test_reserved_app_names_refused(name):
    with pytest.raises(BadRequest, match="reserved"):
        validation.app_name(name)


@pytest.mark.parametrize("key", ["A", "FOO", "foo_bar", "_X", "DATABASE_URL", "K9"])
def test_config_key_accepts(key):
    assert validation.config_key(key) == key


@pytest.mark.parametrize("key", ["", "9LIVES", "FOO-BAR", "FOO BAR", "FOO=", "F\u00d6O", "A.B", "FOO\n", None, 1])
def test_config_key_refuses(key):
    with pytest.raises(BadRequest, match="invalid config key"):
        validation.config_key(key)


@pytest.mark.parametrize("key", ["PORT", "DEIS_APP", "DEIS_RELEASE"])
def test_platform_config_keys_refused(key):
    with pytest.raises(BadRequest, match="set by the platform"):
        validation.config_key(key)


def test_config_value_checks():
    assert validation.config_value("K", "a=b\n\"'\u00e9\U0001f680") == "a=b\n\"'\u00e9\U0001f680"
    assert validation.config_value("K", "") == ""
    with pytest.raises(BadRequest, match="NUL"):
        validation.config_value("K", "a\x00b")
    with pytest.raises(BadRequest, match="must be a string"):
        validation.config_value("K", 5)
    with pytest.raises(BadRequest, match="longer than"):
        validation.config_value("K", "x" * (validation.MAX_CONFIG_VALUE + 1))


@pytest.mark.parametrize("domain", ["example.com", "www.example.com", "a-b.example.co.uk", "x1.io"])
def test_domain_accepts(domain):
    assert validation.domain(domain) == domain


@pytest.mark.parametrize("domain", [
    "", "localhost", "Example.com", "-a.example.com", "a-.example.com", "exa mple.com", "example.com.",
    "*.example.com", "example..com", "example.c", "a" * 64 + ".com", ("a" * 60 + ".") * 5 + "com", None,
])
def test_domain_refuses(domain):
    with pytest.raises(BadRequest, match="invalid domain"):
        validation.domain(domain)


@pytest.mark.parametrize("image", [
    "nginx", "nginx:1.25", "library/nginx:latest", "127.0.0.1:5000/team/app:v1.2",
    "registry.example.com/a/b/c", "app@sha256:" + "a" * 64, "my_app.x-y:tag_1",
])
def test_image_accepts(image):
    assert validation.image(image) == image


@pytest.mark.parametrize("image", [
    "", "Nginx", "nginx:", ":tag", "nginx::1", "a b", "nginx:-bad", "app@sha256:abc", "http://x/y",
    "nginx;rm -rf /", "x" * 513, None, 7,
])
def test_image_refuses(image):
    with pytest.raises(BadRequest, match="invalid image"):
        validation.image(image)


@pytest.mark.parametrize("value,expected", [("512M", "512M"), ("512m", "512M"), ("1g", "1G"), ("1024", "1024"),
                                            ("64k", "64K")])
def test_memory_accepts(value, expected):
    assert validation.memory(value) == expected


@pytest.mark.parametrize("value", ["", "0", "0M", "-1M", "512MB", "1.5G", "M", "512 M", 512, None])
def test_memory_refuses(value):
    with pytest.raises(BadRequest, match="invalid memory limit"):
        validation.memory(value)


@pytest.mark.parametrize("value,expected", [("0.5", 0.5), (1, 1.0), ("2", 2.0), (0.01, 0.01), ("64", 64.0)])
def test_cpu_accepts(value, expected):
    assert validation.cpu(value) == expected


@pytest.mark.parametrize("value", ["", "abc", "0", "0.001", "-1", "65", "nan", "inf", None, True, [1]])
def test_cpu_refuses(value):
    with pytest.raises(BadRequest, match="invalid cpu limit"):
        validation.cpu(value)


def test_username_and_process_type():
    assert validation.username("alice.b-c_1") == "alice.b-c_1"
    assert validation.username("a" * 64) == "a" * 64
    for bad in ("", "-alice", "al ice", "a" * 65, "al/ice", None, "Alice", "ALICE", "alice.", "alice-", "alice_",
                "al..ice", ".alice", "al.-ice"):
        with pytest.raises(BadRequest, match="invalid username"):
            validation.username(bad)
    assert validation.process_type("web") == "web"
    assert validation.process_type("worker_2") == "worker_2"
    for bad in ("", "Web", "-web", "web-", "we b", "a" * 64):
        with pytest.raises(BadRequest, match="invalid process type"):
            validation.process_type(bad)


def test_procfile_validation():
    assert validation.procfile({"web": "gunicorn app", "worker": "rq worker"}) == {
        "web": "gunicorn app", "worker": "rq worker"}
    for bad in ([], {"Web": "x"}, {"web": ""}, {"web": "   "}, {"web": 1}, {"web": "a\x00b"}):
        with pytest.raises(BadRequest):
            validation.procfile(bad)
