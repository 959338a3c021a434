"""SSH public keys: the builder resolves a pushing key's fingerprint to its one owner."""
from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.hazmat.primitives import serialization
from flask import Blueprint
from sqlalchemy import select

from controller.access import body, current_user, session
from controller.db import unique_or_conflict
from controller.errors import BadRequest, Conflict, NotFound
from controller.models import Key
from deiscore import validation

bp = Blueprint("keys", __name__)
KEY_TYPES = {"ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"}
MIN_RSA_BITS = 2048


def fingerprint(blob: bytes) -> str:
    """OpenSSH's SHA256 fingerprint of a key blob, as ``ssh-keygen -l`` prints it."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def parse_public_key(text) -> tuple[str, str, str]:
    """Validate an OpenSSH public key line; return (type, normalized line, fingerprint)."""
    if not isinstance(text, str) or "\n" in text.strip():
        raise BadRequest("public key must be a single line such as 'ssh-ed25519 AAAA... comment'")
    parts = text.strip().split(None, 2)
    if len(parts) < 2 or parts[0] not in KEY_TYPES:
        raise BadRequest(f"unsupported or malformed public key; expected one of {', '.join(sorted(KEY_TYPES))}")
    key_type, data = parts[0], parts[1]
    try:
        blob = base64.b64decode(data, validate=True)
        loaded = serialization.load_ssh_public_key(f"{key_type} {data}".encode())
    except (binascii.Error, ValueError, TypeError):
        raise BadRequest("malformed public key: the key data does not decode") from None
    if not blob.startswith(len(key_type).to_bytes(4, "big") + key_type.encode()):
        raise BadRequest("malformed public key: the key data does not match its type")
    if key_type == "ssh-rsa" and loaded.key_size < MIN_RSA_BITS:
        raise BadRequest(f"RSA keys must have at least {MIN_RSA_BITS} bits")
    line = " ".join(parts)
    return key_type, line, fingerprint(blob)


@bp.get("/keys")
def list_keys():
    user = current_user()
    keys = session().scalars(select(Key).where(Key.user_id == user.id).order_by(Key.created)).all()
    return {"count": len(keys), "results": [k.to_dict() for k in keys]}


@bp.post("/keys")
def add_key():
    user = current_user()
    data = body()
    _, line, fp = parse_public_key(data.get("public"))
    name = data.get("id")
    if name is None:  # default to the key's comment, as Deis does
        parts = line.split(None, 2)
        name = parts[2] if len(parts) == 3 else fp
        name = "".join(c if validation.KEY_NAME.fullmatch(c) else "-" for c in name)[:128]
    validation.key_name(name)
    db = session()
    existing = db.scalar(select(Key).where(Key.fingerprint == fp))
    if existing is not None:
        whose = "you" if existing.user_id == user.id else "another user"
        raise Conflict(f"key {fp} is already registered by {whose}")
    if db.scalar(select(Key).where(Key.user_id == user.id, Key.name == name)) is not None:
        raise Conflict(f"you already have a key called {name!r}")
    key = Key(user=user, name=name, public=line, fingerprint=fp)
    with unique_or_conflict(db, f"key {fp} or the name {name!r} is already registered"):
        db.add(key)
    return key.to_dict(), 201


@bp.delete("/keys/<path:name>")  # fingerprints contain "/"
def remove_key(name):
    user = current_user()
    db = session()
    key = db.scalar(select(Key).where(Key.user_id == user.id, (Key.name == name) | (Key.fingerprint == name)))
    if key is None:
        raise NotFound(f"key {name!r} not found")
    db.delete(key)
    db.commit()
    return "", 204
