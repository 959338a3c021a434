"""Tags through the live API: set/unset make releases; bad names and values are refused unchanged."""
from __future__ import annotations

from tests.controller.helpers import assert_error, new_app, new_user, releases


def test_set_unset_and_list(shared_controller):
    ctl = shared_controller
    _, api = new_user(ctl, "tagger")
    app = new_app(ctl, api)
    url = f"{ctl.url}/v1/apps/{app}/tags"
    assert api.get(url).json() == {"tags": {}}
    r = api.post(url, json={"values": {"environ": "prod", "zone": "a"}})
    assert r.status_code == 201 and r.json() == {"tags": {"environ": "prod", "zone": "a"}, "release": 2,
                                                 "deploy": None}
    r = api.post(url, json={"values": {"zone": None, "environ": "dev"}})
    assert r.status_code == 201 and r.json()["tags"] == {"environ": "dev"}
    assert api.get(url).json() == {"tags": {"environ": "dev"}}
    assert [rel["summary"] for rel in releases(ctl, api, app)][1:] == [
        "tags: added environ, zone", "tags: changed environ, removed zone"]
    assert api.get(f"{ctl.url}/v1/apps/{app}/config").json()["values"] == {}


def test_bad_tags_refused_and_nothing_changes(shared_controller):
    ctl = shared_controller
    _, api = new_user(ctl, "tagbad")
    app = new_app(ctl, api)
    url = f"{ctl.url}/v1/apps/{app}/tags"
    for payload, message in (({"values": {"bad name": "x"}}, "invalid tag name"),
                             ({"values": {"zone": "a b"}}, "invalid value"),
                             ({"values": {"zone": 3}}, "invalid value"),
                             ({"values": {"zone": None}}, "tag zone is not set"),
                             ({"values": {}}, "give 'values'"),
                             ({"values": "zone=a"}, "give 'values'")):
        assert_error(api.post(url, json=payload), 400, message)
    assert api.get(url).json() == {"tags": {}}
    assert len(releases(ctl, api, app)) == 1
    _, stranger = new_user(ctl, "tagstranger")
    assert_error(stranger.post(url, json={"values": {"zone": "a"}}), 404, "not found")
