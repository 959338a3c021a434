"""deis keys:add / keys:list / keys:remove with real ssh-keygen keys."""
from __future__ import annotations

import subprocess

import pytest

from tests.client.conftest import DeisCLI


def ssh_keygen(directory, kind: str, bits: str | None = None, comment: str = "me@laptop"):
    """Make a key pair with the real ssh-keygen; return (path of the .pub file, its fingerprint)."""
    directory.mkdir(parents=True, exist_ok=True)
    private = directory / f"id_{kind}"
    argv = ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", comment, "-f", str(private)]
    subprocess.run(argv + (["-b", bits] if bits else []), check=True)
    out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", f"{private}.pub"], check=True,
                         capture_output=True, text=True).stdout
    return private.with_name(private.name + ".pub"), out.split()[1]


@pytest.mark.parametrize("kind, bits", [("ed25519", None), ("rsa", "3072"), ("ecdsa", "256"), ("ecdsa", "521")])
def test_add_list_remove(user: DeisCLI, tmp_path, kind, bits):
    pub, fingerprint = ssh_keygen(tmp_path / "keys", kind, bits, comment=f"{user.username}@laptop")
    out = user.ok("keys:add", str(pub))
    assert out == f"Added key {user.username}@laptop ({fingerprint})\n"

    listed = user.json("keys:list")
    assert [(k["id"], k["fingerprint"]) for k in listed] == [(f"{user.username}@laptop", fingerprint)]
    assert listed[0]["public"] == pub.read_text().strip()
    table = user.ok("keys")  # shortcut
    assert fingerprint in table and "FINGERPRINT" in table

    # the same key twice, even under another name, is refused
    user.fails("keys:add", str(pub), "--id", "again", expect="already registered by you")
    assert user.ok("keys:remove", f"{user.username}@laptop") == f"Removed key {user.username}@laptop\n"
    assert user.json("keys:list") == []
    user.fails("keys:remove", f"{user.username}@laptop", expect="not found")


def test_default_key_path_named_id_and_remove_by_fingerprint(user: DeisCLI):
    user.fails("keys:add", expect="no public key found in ~/.ssh")
    _, fingerprint = ssh_keygen(user.home / ".ssh", "ed25519")
    assert user.ok("keys:add", "--id", "work") == f"Added key work ({fingerprint})\n"
    user.fails("keys:add", str(user.home / ".ssh" / "id_ed25519.pub"), "--id", "work",
               expect="already registered")
    # fingerprints contain '/' and '+': the CLI quotes them in the URL
    assert user.ok("keys:remove", fingerprint) == f"Removed key {fingerprint}\n"
    assert user.json("keys:list") == []


def test_key_of_another_user_is_refused(user, shared_controller, new_cli, tmp_path):
    pub, _ = ssh_keygen(tmp_path / "shared", "ed25519")
    user.ok("keys:add", str(pub))
    other = new_cli(shared_controller)
    other.register()
    other.fails("keys:add", str(pub), expect="already registered by another user")
    other.fails("keys:remove", "me@laptop", expect="not found")
    assert len(user.json("keys:list")) == 1


def test_malformed_keys_refused(user: DeisCLI, tmp_path):
    pub, _ = ssh_keygen(tmp_path / "k", "ed25519")
    kind, data, _comment = pub.read_text().split()
    short_rsa, _ = ssh_keygen(tmp_path / "short", "rsa", "1024")
    cases = {
        "garbage.pub": ("not a key at all\n", "unsupported or malformed public key"),
        "private_key": ((tmp_path / "k" / "id_ed25519").read_text(), "single line"),
        "bad_base64.pub": (f"{kind} {data[:-3]}!!! me\n", "does not decode"),
        "wrong_type.pub": (f"ssh-rsa {data} me\n", "malformed public key"),
        "type_only.pub": (f"{kind}\n", "unsupported or malformed"),
    }
    for name, (text, message) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        user.fails("keys:add", str(path), expect=message)
    user.fails("keys:add", str(short_rsa), expect="at least 2048 bits")
    user.fails("keys:add", str(tmp_path / "missing.pub"), expect="No such file or directory")
    user.fails("keys:add", str(pub), "--id", "bad id/with slash", expect="invalid key id")
    assert user.json("keys:list") == []
