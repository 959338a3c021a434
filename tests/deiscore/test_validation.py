"""deiscore.validation: every rule once; names are full-matched and refused, never rewritten."""
from __future__ import annotations

import pytest

from deiscore import validation
from deiscore.errors import InvalidInput


@pytest.mark.parametrize("name", ["a", "myapp", "my-app", "app-2", "a1-b2-c3", "x" * 40, "9lives"])
def test_app_name_accepts(name):
    assert validation.app_name(name) == name


@pytest.mark.parametrize("name", [
    "", "MyApp", "my_app", "my.app", "-app", "app-", "my--app", "my app", "app\n", " app", "x" * 41,
    "caf\u00e9", None, 42, ["app"],
])
def test_app_name_refuses(name):
    with pytest.raises(InvalidInput, match="invalid app name"):
        validation.app_name(name)


@pytest.mark.parametrize("name", sorted(validation.RESERVED_APP_NAMES))
def test_reserved_app_names_refused(name):
    with pytest.raises(InvalidInput, match="reserved"):
        validation.app_name(name)


@pytest.mark.parametrize("key", ["A", "FOO", "foo_bar", "_X", "DATABASE_URL", "K9"])
def test_config_key_accepts(key):
    assert validation.config_key(key) == key


@pytest.mark.parametrize("key", ["", "9LIVES", "FOO-BAR", "FOO BAR", "FOO=", "F\u00d6O", "A.B", "FOO\n", None, 1])
def test_config_key_refuses(key):
    with pytest.raises(InvalidInput, match="invalid config key"):
        validation.config_key(key)


@pytest.mark.parametrize("key", ["PORT", "DEIS_APP", "DEIS_RELEASE"])
def test_platform_config_keys_refused(key):
    with pytest.raises(InvalidInput, match="set by the platform"):
        validation.config_key(key)


def test_config_value_checks():
    assert validation.config_value("K", "a=b\n\"'\u00e9\U0001f680") == "a=b\n\"'\u00e9\U0001f680"
    assert validation.config_value("K", "") == ""
    with pytest.raises(InvalidInput, match="NUL"):
        validation.config_value("K", "a\x00b")
    with pytest.raises(InvalidInput, match="must be a string"):
        validation.config_value("K", 5)
    with pytest.raises(InvalidInput, match="longer than"):
        validation.config_value("K", "x" * (validation.MAX_CONFIG_VALUE + 1))


@pytest.mark.parametrize("domain", ["example.com", "www.example.com", "a-b.example.co.uk", "x1.io"])
def test_domain_accepts(domain):
    assert validation.domain(domain) == domain


@pytest.mark.parametrize("domain", [
    "", "localhost", "Example.com", "-a.example.com", "a-.example.com", "exa mple.com", "example.com.",
    "*.example.com", "example..com", "example.c", "a" * 64 + ".com", ("a" * 60 + ".") * 5 + "com", None,
])
def test_domain_refuses(domain):
    with pytest.raises(InvalidInput, match="invalid domain"):
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
    with pytest.raises(InvalidInput, match="invalid image"):
        validation.image(image)


@pytest.mark.parametrize("value", ["c1", "cafe", "0123456789ab", "sha256:" + "a" * 64, "sha256:a1b2"])
def test_image_ids_and_prefixes_are_refused(value):
    with pytest.raises(InvalidInput, match="image ID"):
        validation.image_reference(value)


@pytest.mark.parametrize("value", ["nginx", "nginx:1.25", "library/nginx:latest", "team/web@sha256:" + "a" * 64])
def test_short_names_are_refused(value):
    with pytest.raises(InvalidInput, match="does not name its registry"):
        validation.image_reference(value)


def test_full_references_parse():
    ref = validation.image_reference("registry.example.com:5000/team/web:1.0")
    assert (ref.registry, ref.path, ref.tag, ref.digest) == ("registry.example.com:5000", "team/web", "1.0", None)
    digest = "sha256:" + "b" * 64
    ref = validation.image_reference(f"localhost/web:1@{digest}")
    assert (ref.registry, ref.path, ref.digest, str(ref)) == ("localhost", "web", digest, f"localhost/web@{digest}")
    assert str(validation.image_reference("ghcr.io/org/app")) == "ghcr.io/org/app:latest"


@pytest.mark.parametrize("value,expected", [("512M", "512M"), ("512m", "512M"), ("1g", "1G"),
                                            ("6m", "6M"), ("6144k", "6144K"), ("6291456", "6291456")])
def test_memory_accepts(value, expected):
    assert validation.memory(value) == expected


@pytest.mark.parametrize("value", ["", "0", "0M", "-1M", "512MB", "1.5G", "M", "512 M", 512, None, "1M", "5m",
                                   "6291455", "12345678901G"])
def test_memory_refuses(value):
    with pytest.raises(InvalidInput, match="invalid memory limit"):
        validation.memory(value)


@pytest.mark.parametrize("value,expected", [("0.5", 0.5), (1, 1.0), ("2", 2.0), (0.01, 0.01), ("64", 64.0)])
def test_cpu_accepts(value, expected):
    assert validation.cpu(value) == expected


@pytest.mark.parametrize("value", ["", "abc", "0", "0.001", "-1", "65", "nan", "inf", None, True, [1]])
def test_cpu_refuses(value):
    with pytest.raises(InvalidInput, match="invalid cpu limit"):
        validation.cpu(value)


def test_username_and_process_type():
    assert validation.username("alice.b-c_1") == "alice.b-c_1"
    assert validation.username("a" * 64) == "a" * 64
    for bad in ("", "-alice", "al ice", "a" * 65, "al/ice", None, "Alice", "ALICE", "alice.", "alice-", "alice_",
                "al..ice", ".alice", "al.-ice"):
        with pytest.raises(InvalidInput, match="invalid username"):
            validation.username(bad)
    assert validation.process_type("web") == "web"
    assert validation.process_type("worker_2") == "worker_2"
    for bad in ("", "Web", "-web", "web-", "we b", "a" * 23):
        with pytest.raises(InvalidInput, match="invalid process type"):
            validation.process_type(bad)


def test_procfile_validation():
    assert validation.procfile({"web": "gunicorn app", "worker": "rq worker"}) == {
        "web": "gunicorn app", "worker": "rq worker"}
    for bad in ([], {"Web": "x"}, {"web": ""}, {"web": "   "}, {"web": 1}, {"web": "a\x00b"}):
        with pytest.raises(InvalidInput):
            validation.procfile(bad)


def test_memory_minimum_is_the_engines():
    with pytest.raises(InvalidInput) as info:
        validation.memory("1M", "web")
    assert info.value.detail == "invalid memory limit of web '1M': at least 6M (the container engine's minimum)"
    assert validation.memory_bytes("6M") == validation.MEMORY_MIN == 6 << 20
    assert validation.memory_bytes("1g") == 1 << 30 and validation.memory_bytes("512") == 512


def test_procfile_types_are_process_types_that_are_not_reserved():
    assert validation.procfile_type("web") == "web"
    for bad in ("Web", "worker--x", "web_", "a" * 64):
        with pytest.raises(InvalidInput, match="invalid process type"):
            validation.procfile_type(bad)
    with pytest.raises(InvalidInput, match="reserved for one-off containers"):
        validation.procfile_type("run")
    assert validation.process_type("run") == "run"  # limits of one-off containers: deis limits:set run=256M
    with pytest.raises(InvalidInput, match="reserved"):
        validation.procfile({"run": "bash"})


@pytest.mark.parametrize("value,expected", [(0, 0), (3, 3), ("12", 12), (100, 100)])
def test_scale_count_accepts(value, expected):
    assert validation.scale_count("web", value) == expected


@pytest.mark.parametrize("value", [-1, 101, "101", "-1", "1.5", 1.5, "two", "\u00b2", True, None, ""])
def test_scale_count_refuses(value):
    with pytest.raises(InvalidInput) as info:
        validation.scale_count("web", value)
    assert info.value.detail.startswith(f"invalid count {value!r} for web: use a whole number between 0 and 100")


def test_tags():
    assert validation.tags(None) == {}
    assert validation.tags({"zone": "eu-1", "disk.type": "ssd_2"}) == {"zone": "eu-1", "disk.type": "ssd_2"}
    for bad, message in [({"-zone": "a"}, "invalid tag name '-zone'"), ({"zone": "a b"}, "invalid value of tag zone"),
                         ({"zone": 1}, "invalid value of tag zone"), (["zone"], "invalid tags"),
                         ({"z" * 64: "a"}, "invalid tag name")]:
        with pytest.raises(InvalidInput, match=message):
            validation.tags(bad)


def test_config_value_messages_never_repeat_the_value():
    secret = "hunter2\x00"
    with pytest.raises(InvalidInput) as info:
        validation.config_value("PASSWORD", secret)
    assert "hunter2" not in info.value.detail and "PASSWORD" in info.value.detail


def test_messages_name_the_field_the_value_and_what_is_allowed():
    for rule, value in [(validation.app_name, "My_App"), (validation.process_type, "Web"),
                        (validation.domain, "Example.com"), (validation.config_key, "1X"),
                        (validation.cpu, "lots"), (validation.memory, "lots"), (validation.tag_name, "a b")]:
        with pytest.raises(InvalidInput) as info:
            rule(value)
        error = info.value
        assert error.detail == str(error) == f"invalid {error.field} {value!r}: {error.reason}"
        assert len(error.reason) > 10 and isinstance(error, ValueError)


def test_the_longest_names_fit_where_they_are_used():
    from router.routes import make_route
    from scheduler.containers import container_name
    from scheduler.swarm import service_name

    app, ptype = "a" * validation.APP_NAME_MAX, "b" * validation.PROCESS_TYPE_MAX
    assert validation.app_name(app) and validation.procfile_type(ptype)
    assert len(service_name(app, ptype)) <= 63  # Swarm refuses longer service names
    assert validation.DOMAIN.fullmatch(f"{app}.deis.example.com")  # one DNS label
    assert make_route(app, [f"{app}.deis.example.com"])
    assert container_name(app, 999999999, ptype, 100)
    with pytest.raises(InvalidInput, match=f"at most {validation.PROCESS_TYPE_MAX} characters"):
        validation.process_type(ptype + "b")
