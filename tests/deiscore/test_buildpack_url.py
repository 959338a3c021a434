"""The BUILDPACK_URL rule (pure): network URLs only, with an optional #ref."""
import pytest

from deiscore.buildpack_url import parse


@pytest.mark.parametrize("url, expected", [
    ("https://github.com/heroku/heroku-buildpack-python", ("https://github.com/heroku/heroku-buildpack-python", None)),
    ("https://h/bp.git#v2", ("https://h/bp.git", "v2")),
    ("http://172.17.0.1:8080/bp.git#release/1.x", ("http://172.17.0.1:8080/bp.git", "release/1.x")),
    ("git://h/bp", ("git://h/bp", None)),
])
def test_network_urls_are_accepted(url, expected):
    assert parse(url) == expected


@pytest.mark.parametrize("url, reason", [
    ("file:///srv/bp", "is a file:// URL"),
    ("FILE:///srv/bp", "is a file:// URL"),
    ("/srv/bp", "is a local path"),
    ("./bp", "is a local path"),
    ("bp.git", "is a local path"),
    ("ssh://git@h/bp.git", "is an ssh URL"),
    ("git@github.com:me/bp.git", "is an ssh URL"),
    ("ext::sh", "git remote helper"),
    ("fd::3/x", "git remote helper"),
    ("ftp://h/bp", "the scheme ftp:// is not supported"),
    ("https:///bp", "has no host"),
    ("https://h/bp#--upload-pack=x", "is not a branch or tag name"),
    ("https://h/bp#../x", "is not a branch or tag name"),
    ("https://h/b p", "spaces or control characters"),
    ("", "is empty"),
])
def test_everything_else_is_refused_with_the_reason(url, reason):
    with pytest.raises(ValueError, match=reason):
        parse(url)
