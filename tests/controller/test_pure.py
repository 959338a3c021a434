"""Pure functions of the controller: summaries, version parsing, config merging, scale, Procfiles."""
from __future__ import annotations

import pytest

from controller import builds, config, releases, scale
from controller.errors import BadRequest
from deiscore.errors import InvalidInput
from deiscore.validation import MAX_SCALE


def test_config_summary_added_changed_removed():
    old = {"A": "1", "B": "2", "C": "3"}
    new = {"A": "1", "B": "two", "D": "4", "E": "5"}
    assert releases.config_summary(old, new) == "added D, E, changed B, removed C"


def test_config_summary_single_parts_and_no_change():
    assert releases.config_summary({}, {"FOO": "x"}) == "added FOO"
    assert releases.config_summary({"FOO": "x"}, {"FOO": "y"}) == "changed FOO"
    assert releases.config_summary({"FOO": "x"}, {}) == "removed FOO"
    assert releases.config_summary({"FOO": "x"}, {"FOO": "x"}) == ""
    # byte-exact comparison: a trailing newline is a change
    assert releases.config_summary({"FOO": "x"}, {"FOO": "x\n"}) == "changed FOO"


def test_limits_summary():
    assert releases.limits_summary("memory", {}, {"web": "512M"}) == "changed memory limits for web"
    assert releases.limits_summary("cpu", {"web": 1.0, "worker": 0.5}, {"web": 1.0}) == \
        "changed cpu limits for worker"
    assert releases.limits_summary("memory", {"b": "1G", "a": "1G"}, {"a": "2G", "b": "2G"}) == \
        "changed memory limits for a, b"
    assert releases.limits_summary("memory", {"web": "1G"}, {"web": "1G"}) == ""


@pytest.mark.parametrize("value,expected", [("v1", 1), ("1", 1), ("v42", 42), (7, 7), ("v999999999", 999999999)])
def test_parse_version(value, expected):
    assert releases.parse_version(value) == expected


@pytest.mark.parametrize("value", ["", "v", "v0", "0", "-1", "v-1", "V2", "v1.0", "vv1", "v01", "two",
                                   "v1 ", "v1234567890", None, True])
def test_parse_version_refuses(value):
    with pytest.raises(BadRequest, match="invalid release version"):
        releases.parse_version(value)


def test_merge_values_sets_unsets_and_copies():
    current = {"A": "1", "B": "2"}
    merged = config.merge_values(current, {"A": "one", "B": None, "C": "a=b\nc", "MISSING": None})
    assert merged == {"A": "one", "C": "a=b\nc"}
    assert current == {"A": "1", "B": "2"}  # never edited in place
    assert config.merge_values({}, {}) == {}


def test_default_procfile():
    """An image without a Procfile web runs its own command ("") as web (Dokku), also next to other types."""
    assert builds.default_procfile("image", {}) == {"web": ""}
    assert builds.default_procfile("dockerfile", {}) == {"web": ""}
    assert builds.default_procfile("dockerfile", {"worker": "w"}) == {"web": "", "worker": "w"}
    assert builds.default_procfile("image", {"release": "migrate"}) == {"web": "", "release": "migrate"}
    assert builds.default_procfile("buildpack", {}) == {}
    given = {"web": "gunicorn app"}
    assert builds.default_procfile("image", given) == given
    assert builds.default_procfile("buildpack", given) == given


def test_checked_procfile_takes_an_images_own_command_only_for_images():
    assert builds.checked_procfile("dockerfile", {"web": "", "worker": "w"}) == {"web": "", "worker": "w"}
    with pytest.raises(InvalidInput):
        builds.checked_procfile("buildpack", {"web": ""})
    with pytest.raises(InvalidInput):
        builds.checked_procfile("dockerfile", {"Bad Type": ""})


def test_image_settings_are_checked():
    assert builds.image_settings(8080, True) == (8080, True)
    assert builds.image_settings(None, None) == (None, None)
    for port in (0, 65536, "80", True, 1.5):
        with pytest.raises(BadRequest):
            builds.image_settings(port, None)
    with pytest.raises(BadRequest):
        builds.image_settings(None, "yes")


def test_prune_structure():
    procfile = {"web": "a", "worker": "b"}
    assert builds.prune_structure({}, procfile) == {"web": 1}
    assert builds.prune_structure(None, procfile) == {"web": 1}
    assert builds.prune_structure({"web": 3, "gone": 2}, procfile) == {"web": 3}
    assert builds.prune_structure({"worker": 0}, procfile) == {"worker": 0}
    assert builds.prune_structure({}, {"cmd": ""}) == {"cmd": 1}
    assert builds.prune_structure({}, {"worker": "b"}) == {}
    assert builds.prune_structure({"web": 2}, {"cmd": ""}) == {"cmd": 1}


def test_parse_counts_accepts():
    procfile = {"web": "a", "worker": "b"}
    assert scale.parse_counts({"web": 3, "worker": "0"}, procfile) == {"web": 3, "worker": 0}
    assert scale.parse_counts({"web": MAX_SCALE}, procfile) == {"web": MAX_SCALE}


@pytest.mark.parametrize("data,message", [
    ({}, "give counts"),
    ([], "give counts"),
    ({"db": 1}, "unknown process type 'db'"),
    ({"web": -1}, "invalid count"),
    ({"web": "-1"}, "invalid count"),
    ({"web": 1.5}, "invalid count"),
    ({"web": 1.0}, "invalid count"),
    ({"web": "two"}, "invalid count"),
    ({"web": True}, "invalid count"),
    ({"web": None}, "invalid count"),
    ({"web": ""}, "invalid count"),
    ({"web": "\u00b2"}, "invalid count"),  # str.isdigit() says yes; int() would crash
    ({"web": "\u0663"}, "invalid count"),  # Arabic-Indic three
    ({"web": MAX_SCALE + 1}, "between 0 and"),
])
def test_parse_counts_refuses(data, message):
    with pytest.raises((BadRequest, InvalidInput), match=message):  # both answered 400
        scale.parse_counts(data, {"web": "a"})


def test_parse_counts_unknown_type_names_known_ones():
    with pytest.raises(BadRequest, match=r"this build has: web, worker"):
        scale.parse_counts({"db": 1}, {"web": "a", "worker": "b"})
