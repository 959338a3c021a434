"""Platform state: the tables the controller owns.

Builds and configs are immutable rows; a release points at one of each, so a rollback is a new
release that reuses old rows and nothing is ever rewritten in place.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def now() -> datetime:
    return datetime.now(timezone.utc)


def new_uuid() -> str:
    return str(uuid.uuid4())


def iso(value: datetime) -> str:
    if value.tzinfo is None:  # SQLite hands back naive datetimes
        value = value.replace(tzinfo=timezone.utc)
    return value.isoformat()


def _name(user) -> str | None:
    return user.username if user is not None else None


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)

    def to_dict(self) -> dict:
        return {"username": self.username, "email": self.email, "is_admin": self.is_admin,
                "created": iso(self.created)}


class Token(Base):
    """An API token, stored as its SHA-256 (tokens are random, so a fast hash is enough)."""
    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    last_used: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)  # to a few minutes
    user: Mapped[User] = relationship()


class LoginAttempt(Base):
    """A login being checked or refused: counts against its account and client address for a while."""
    __tablename__ = "login_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)  # lowercased
    address: Mapped[str] = mapped_column(String(64), index=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, index=True)


class Key(Base):
    __tablename__ = "keys"
    __table_args__ = (UniqueConstraint("user_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    public: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(128), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    user: Mapped[User] = relationship()

    def to_dict(self) -> dict:
        return {"id": self.name, "public": self.public, "fingerprint": self.fingerprint,
                "owner": self.user.username, "created": iso(self.created)}


class App(Base):
    __tablename__ = "apps"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    uuid: Mapped[str] = mapped_column(String(36), default=new_uuid)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    structure: Mapped[dict] = mapped_column(JSON, default=dict)  # desired scale {type: count}
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    # credentials `deis pull` uses for other registries ({"username", "password"}; `deis registry:set`)
    pull_credentials: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    owner: Mapped[User] = relationship()


class Perm(Base):
    """A collaborator on an app."""
    __tablename__ = "perms"
    __table_args__ = (UniqueConstraint("app_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    user: Mapped[User] = relationship()


class Build(Base):
    __tablename__ = "builds"
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), default=new_uuid)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    image: Mapped[str] = mapped_column(String(512))
    sha: Mapped[str] = mapped_column(String(64), default="")
    kind: Mapped[str] = mapped_column(String(16))  # buildpack | dockerfile | image
    procfile: Mapped[dict] = mapped_column(JSON, default=dict)  # {type: command}; "": the image's own command
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    # What the image says (Dockerfile and pulled images): the web port (its first exposed TCP port;
    # None: 5000) and whether it has an ENTRYPOINT (None: not known, builds from before these were kept).
    port: Mapped[int | None] = mapped_column(Integer, nullable=True)
    entrypoint: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # The Procfile's ``release:`` command (the release phase; not a process type) and the sections of
    # app.json the platform uses, normalized (deiscore.appjson.normalize; None: no app.json).
    release_command: Mapped[str | None] = mapped_column(Text, nullable=True)
    app_json: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    owner: Mapped[User | None] = relationship()

    def to_dict(self) -> dict:
        return {"uuid": self.uuid, "image": self.image, "sha": self.sha, "kind": self.kind,
                "procfile": self.procfile, "port": self.port, "entrypoint": self.entrypoint,
                "release_command": self.release_command, "app_json": self.app_json,
                "owner": _name(self.owner), "created": iso(self.created)}

    def spec_fields(self) -> dict:
        """What a :class:`scheduler.spec.ReleaseSpec` takes from its build. An empty command is the
        image's own command: kept for images (it is how ``web`` runs an image's CMD), dropped otherwise."""
        image = self.kind != "buildpack"
        procfile = {ptype: command for ptype, command in (self.procfile or {}).items() if command or image}
        fields = {"image": self.image, "kind": self.kind, "procfile": procfile, "entrypoint": bool(self.entrypoint)}
        if self.port is not None:
            fields["port"] = self.port
        return fields


class Config(Base):
    """One immutable version of an app's environment and resource limits."""
    __tablename__ = "configs"
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), default=new_uuid)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    values: Mapped[dict] = mapped_column(JSON, default=dict)
    memory: Mapped[dict] = mapped_column(JSON, default=dict)  # {type: "512M"}
    cpu: Mapped[dict] = mapped_column(JSON, default=dict)  # {type: 0.5} (cores)
    tags: Mapped[dict] = mapped_column(JSON, default=dict)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)

    def to_dict(self) -> dict:
        return {"uuid": self.uuid, "values": self.values, "memory": self.memory, "cpu": self.cpu,
                "tags": self.tags, "created": iso(self.created)}


class Release(Base):
    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("app_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), default=new_uuid)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    version: Mapped[int] = mapped_column(Integer)
    build_id: Mapped[int | None] = mapped_column(ForeignKey("builds.id"), nullable=True)
    config_id: Mapped[int] = mapped_column(ForeignKey("configs.id"))
    summary: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    # The outcome of the release's deploy (see controller.deploys): queued, deploying, succeeded,
    # failed (status_detail says why) or superseded. Releases from before statuses were kept served.
    status: Mapped[str] = mapped_column(String(16), default="succeeded", server_default="succeeded")
    status_detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    deploy_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The image the release runs when its predeploy script changed the build's (app.json
    # scripts.dokku.predeploy, committed and pushed by digest); None: the build's image.
    image: Mapped[str | None] = mapped_column(String(512), nullable=True)
    owner: Mapped[User] = relationship()
    build: Mapped[Build | None] = relationship()
    config: Mapped[Config] = relationship()

    def to_dict(self, app_name: str) -> dict:
        return {"app": app_name, "version": self.version, "summary": self.summary,
                "owner": _name(self.owner), "build": self.build.to_dict() if self.build else None,
                "image": self.image or (self.build.image if self.build else None),
                "config": self.config.uuid, "created": iso(self.created), "status": self.status,
                "status_detail": self.status_detail}


class Domain(Base):
    __tablename__ = "domains"
    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    domain: Mapped[str] = mapped_column(String(253), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class Host(Base):
    """A machine whose Docker Engine the scheduler reaches over SSH; its host key is pinned here."""

    __tablename__ = "hosts"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str] = mapped_column(String(300), unique=True)  # ssh://user@address[:port]
    address: Mapped[str] = mapped_column(String(253))
    port: Mapped[int] = mapped_column(Integer, default=22)
    username: Mapped[str] = mapped_column(String(32))
    host_key: Mapped[str] = mapped_column(Text)  # "<type> <base64>", pinned on first contact
    memory: Mapped[int] = mapped_column(BigInteger)  # bytes the engine reports (capacity)
    tags: Mapped[dict] = mapped_column(JSON, default=dict)
    draining: Mapped[bool] = mapped_column(Boolean, default=False)  # being removed: no new processes
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)

    def as_dict(self) -> dict:
        return {"name": self.name, "url": self.url, "address": self.address, "memory": self.memory,
                "tags": self.tags, "created": iso(self.created)}
