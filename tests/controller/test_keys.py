"""SSH keys: parsing and fingerprints (as ssh-keygen prints them), and the keys API."""
from __future__ import annotations

import base64
import subprocess

import pytest

from controller.errors import BadRequest
from controller.keys import parse_public_key
from tests.controller.helpers import assert_error, new_user

KEY_SPECS = {"ed25519": ["-t", "ed25519"], "rsa": ["-t", "rsa", "-b", "2048"],
             "ecdsa": ["-t", "ecdsa", "-b", "256"], "ecdsa384": ["-t", "ecdsa", "-b", "384"],
             "ecdsa521": ["-t", "ecdsa", "-b", "521"]}


def ssh_keygen(path, *spec, comment="tester@example.com"):
    subprocess.run(["ssh-keygen", "-q", *spec, "-N", "", "-C", comment, "-f", str(path)], check=True)
    return (path.parent / (path.name + ".pub")).read_text().strip()


def keygen_fingerprint(pub_path) -> str:
    out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(pub_path)], check=True,
                         capture_output=True, text=True).stdout
    return out.split()[1]


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """Real OpenSSH key pairs: {kind: (public line, path of .pub)}."""
    root = tmp_path_factory.mktemp("sshkeys")
    return {kind: (ssh_keygen(root / kind, *spec), root / f"{kind}.pub") for kind, spec in KEY_SPECS.items()}


def fresh_key(tmp_path, kind="ed25519"):
    return ssh_keygen(tmp_path / f"fresh-{kind}", *KEY_SPECS[kind])


@pytest.mark.parametrize("kind", sorted(KEY_SPECS))
def test_fingerprint_matches_ssh_keygen(keys, kind):
    line, pub = keys[kind]
    key_type, normalized, fingerprint = parse_public_key(line)
    assert key_type == line.split()[0]
    assert normalized == line
    assert fingerprint == keygen_fingerprint(pub)


def test_parse_normalizes_whitespace_and_keeps_comment(keys):
    line, _ = keys["ed25519"]
    key_type, data, comment = line.split(" ", 2)
    _, normalized, _ = parse_public_key(f"  {key_type}   {data}\t{comment}\n")
    assert normalized == f"{key_type} {data} {comment}"
    _, without_comment, _ = parse_public_key(f"{key_type} {data}")
    assert without_comment == f"{key_type} {data}"


def test_short_rsa_refused(tmp_path):
    line = ssh_keygen(tmp_path / "short", "-t", "rsa", "-b", "1024")
    with pytest.raises(BadRequest, match="at least 2048 bits"):
        parse_public_key(line)


def test_malformed_keys_refused(keys):
    ed = keys["ed25519"][0]
    rsa = keys["rsa"][0]
    key_type, data = ed.split()[:2]
    blob = base64.b64decode(data)
    bad = [
        "", "garbage", "ssh-ed25519", f"ssh-ed25519 {data[:-8]}", "ssh-ed25519 !!!notbase64!!!",
        f"ssh-dss {data}", f"ssh-rsa {data}",  # type says rsa, blob says ed25519
        f"ssh-ed25519 {base64.b64encode(blob + b'x').decode()}",
        f"{ed}\n{rsa}",  # two keys
        "-----BEGIN OPENSSH PRIVATE KEY-----", None, 123,
    ]
    for text in bad:
        with pytest.raises(BadRequest):
            parse_public_key(text)


def test_add_list_remove_real_keys(shared_controller, keys):
    ctl = shared_controller
    # keys are unique platform-wide, so each test run uses fresh ones for this module's controller
    name, api = new_user(ctl, "keys")
    added = {}
    for kind in ("ed25519", "rsa", "ecdsa"):
        line, pub = keys[kind]
        r = api.post(f"{ctl.url}/v1/keys", json={"public": line, "id": f"{kind}-key"})
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["fingerprint"] == keygen_fingerprint(pub)
        assert body["owner"] == name and body["public"] == line and body["id"] == f"{kind}-key"
        added[kind] = body["fingerprint"]

    listed = api.get(f"{ctl.url}/v1/keys").json()
    assert listed["count"] == 3
    assert {k["id"]: k["fingerprint"] for k in listed["results"]} == {
        f"{kind}-key": fp for kind, fp in added.items()}

    # the same key again: refused for this user and for everyone else
    assert_error(api.post(f"{ctl.url}/v1/keys", json={"public": keys["rsa"][0], "id": "again"}), 409, "you")
    _, other = new_user(ctl, "keys-other")
    assert_error(other.post(f"{ctl.url}/v1/keys", json={"public": keys["ed25519"][0]}), 409, "another user")
    # someone else cannot remove it either
    assert_error(other.delete(f"{ctl.url}/v1/keys/ed25519-key"), 404)

    # remove by id, and by fingerprint
    assert api.delete(f"{ctl.url}/v1/keys/ed25519-key").status_code == 204
    r = api.delete(f"{ctl.url}/v1/keys/{added['rsa']}")
    assert r.status_code == 204, r.text
    assert [k["id"] for k in api.get(f"{ctl.url}/v1/keys").json()["results"]] == ["ecdsa-key"]
    assert_error(api.delete(f"{ctl.url}/v1/keys/ed25519-key"), 404, "not found")

    # once removed, another user may register it
    r = other.post(f"{ctl.url}/v1/keys", json={"public": keys["ed25519"][0]})
    assert r.status_code == 201, r.text
    assert r.json()["id"] == "tester@example.com"  # default id: the key's comment


def test_remove_by_fingerprint_with_slash(shared_controller, tmp_path):
    """Base64 fingerprints contain '/' and '+'; removing by fingerprint must still work."""
    ctl = shared_controller
    _, api = new_user(ctl, "keys-fp")
    for i in range(40):  # find a key whose fingerprint has a '/' in it
        line = ssh_keygen(tmp_path / f"k{i}", "-t", "ed25519")
        fingerprint = parse_public_key(line)[2]
        if "/" in fingerprint:
            break
    else:
        pytest.skip("no fingerprint with '/' in 40 tries")
    assert api.post(f"{ctl.url}/v1/keys", json={"public": line, "id": "slashy"}).status_code == 201
    r = api.delete(f"{ctl.url}/v1/keys/{fingerprint}")
    assert r.status_code == 204, r.text
    assert api.get(f"{ctl.url}/v1/keys").json()["count"] == 0


def test_bad_keys_refused_by_api(shared_controller, tmp_path, keys):
    ctl = shared_controller
    _, api = new_user(ctl, "keys-bad")
    short = ssh_keygen(tmp_path / "short", "-t", "rsa", "-b", "1024")
    for public in ("garbage", "", short, "ssh-ed25519 AAAA", None, ["ssh-ed25519"]):
        assert_error(api.post(f"{ctl.url}/v1/keys", json={"public": public}), 400)
    line = fresh_key(tmp_path)
    assert_error(api.post(f"{ctl.url}/v1/keys", json={"public": line, "id": "bad id/with slash"}), 400,
                 "invalid key id")
    assert api.get(f"{ctl.url}/v1/keys").json()["count"] == 0
    # two keys may not share an id
    assert api.post(f"{ctl.url}/v1/keys", json={"public": line, "id": "laptop"}).status_code == 201
    assert_error(api.post(f"{ctl.url}/v1/keys", json={"public": fresh_key(tmp_path, "rsa"), "id": "laptop"}),
                 409, "laptop")
    # and keys need a login
    assert_error(ctl.api().get(f"{ctl.url}/v1/keys"), 401)
