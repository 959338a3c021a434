"""Builds: an image plus its process types. Each new build makes a release.

Images belong to apps. A build's image is one the builder built for the app, or one the platform
pulled for it (``deis pull``): from a registry, by a full reference; from the platform registry,
another app's image only if the caller may use that app; or the platform's stack image, which anyone
may run. The platform pushes what it pulled into the app's own repository and records the digest it
got: releases run ``<registry>/<app>@sha256:...``, never a tag that could move, never an image that
only happens to be on the engine. (With ``DEIS_SCHEDULER=off`` releases are records only and the
reference is recorded as given, after the same checks.)
"""
from __future__ import annotations

import secrets

import requests
from flask import Blueprint, current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from builder.dockerfile import image_entrypoint, image_port
from builder.errors import BuilderError
from builder.images import import_image
from builder.registry import RegistryClient
from controller import releases
from controller.access import app_for_user, body, can_use_app, current_user, find_app, session, settings
from controller.errors import BadRequest, NotFound
from controller.models import App, Build, Release, User
from deiscore import appjson, validation
from scheduler.errors import InvalidSpec
from scheduler.spec import check_exec_command

bp = Blueprint("builds", __name__)
KINDS = {"buildpack", "dockerfile", "image"}
IMAGE_KINDS = ("dockerfile", "image")  # kinds whose image brings its own command
REGISTRY_KEYS = ("username", "password")


def default_procfile(kind: str, procfile: dict) -> dict:
    """A Docker image (Dockerfile, ``deis pull``) runs its own command ("") as ``web`` unless the
    Procfile declares ``web`` (Dokku's semantics)."""
    if kind in IMAGE_KINDS and "web" not in procfile:
        return {"web": "", **procfile}
    return procfile


def prune_structure(structure: dict, procfile: dict) -> dict:
    """Desired scale for a new build: known types keep their counts; a fresh app gets one of web or cmd."""
    kept = {ptype: count for ptype, count in (structure or {}).items() if ptype in procfile}
    if not kept:
        for ptype in ("web", "cmd"):
            if ptype in procfile:
                kept[ptype] = 1
                break
    return kept


def image_settings(port, entrypoint) -> tuple[int | None, bool | None]:
    """The web port and ENTRYPOINT flag a build reports for its image, checked."""
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535):
        raise BadRequest(f"invalid port {port!r}: a TCP port (1-65535)")
    if entrypoint is not None and not isinstance(entrypoint, bool):
        raise BadRequest(f"invalid entrypoint {entrypoint!r}: true or false")
    return port, entrypoint


def checked_procfile(kind: str, procfile) -> dict:
    """The Procfile a build reports; for an image, "" is its own command (ENTRYPOINT + CMD)."""
    if not procfile:
        return {}
    if kind in IMAGE_KINDS and isinstance(procfile, dict):
        own = {ptype: command for ptype, command in procfile.items() if command == ""}
        for ptype in own:
            validation.procfile_type(ptype)
        rest = {ptype: command for ptype, command in procfile.items() if command != ""}
        return {**own, **(validation.procfile(rest) if rest else {})}
    return validation.procfile(procfile)


def env_defaults(env: dict, values: dict) -> dict:
    """The config app.json's ``env`` adds to ``values``: defaults and generated secrets for keys the app
    does not have; a required key without a value that the app does not have refuses the build."""
    added = {}
    for key, entry in env.items():
        if key in values:
            continue
        if entry["value"] is not None:
            added[key] = entry["value"]
        elif entry["generator"] == "secret":
            added[key] = secrets.token_hex(32)
        elif entry["required"]:
            raise BadRequest(f"app.json: env {key} is required and {key} is not set: "
                             f"run 'deis config:set {key}=...' and push again")
    return added


def initial_scale(structure: dict, procfile: dict, formation: dict) -> dict:
    """The scale of a new build: :func:`prune_structure`, then app.json's ``formation`` for the process
    types the app has not been scaled for yet."""
    scale = prune_structure(structure, procfile)
    for ptype, count in formation.items():
        if ptype in procfile and ptype not in (structure or {}):
            scale[ptype] = count
    return scale


def release_build(db: Session, app: App, user: User | None, *, image: str, sha: str, kind: str,
                  procfile: dict, port: int | None = None, entrypoint: bool | None = None,
                  release_command: str | None = None, app_json: dict | None = None) -> tuple[Build, Release]:
    """Store a build and release it with the current config (:func:`controller.releases.make_release`).
    ``port``/``entrypoint``: what the image says (its first exposed port, whether it has an ENTRYPOINT).
    ``release_command``: the Procfile's ``release:`` entry; ``app_json``: the sections of app.json the
    builder read (:func:`deiscore.appjson.parse`)."""
    if kind not in KINDS:
        raise BadRequest(f"invalid build kind {kind!r}: one of {', '.join(sorted(KINDS))}")
    port, entrypoint = image_settings(port, entrypoint)
    if release_command is not None:
        validation.procfile_command("release", release_command)
    manifest = appjson.normalize(app_json) if app_json is not None else None
    procfile = checked_procfile(kind, procfile)
    if entrypoint and kind in IMAGE_KINDS:
        for ptype, command in procfile.items():
            try:
                check_exec_command(ptype, command)
            except InvalidSpec as exc:
                raise BadRequest(str(exc)) from None
    procfile = default_procfile(kind, procfile)
    build = Build(app_id=app.id, owner=user, image=validation.image(image), sha=sha, kind=kind, procfile=procfile,
                  port=port, entrypoint=entrypoint, release_command=release_command, app_json=manifest)
    manifest = manifest or appjson.empty()

    def change(draft):
        return draft.change(build=build, values={**draft.values, **env_defaults(manifest["env"], draft.values)})
    release = releases.make_release(db, app, user, change,
                                    structure=initial_scale(app.structure, procfile, manifest["formation"]))
    return build, release


@bp.get("/apps/<name>/builds")
def list_builds(name):
    app = app_for_user(name)
    rows = session().scalars(select(Build).where(Build.app_id == app.id).order_by(Build.id.desc()))
    results = [b.to_dict() for b in rows]
    return {"count": len(results), "results": results}


def platform_registries(s) -> set[str]:
    """How image references name the platform's own registry."""
    return {s.registry, f"localhost:{s.registry_port}"}


def built_image(app: App, image) -> str:
    """An image the builder reports for ``app``: in the app's own repository, by digest."""
    ref = validation.image_reference(image)
    if ref.path != app.name or not ref.digest:
        raise BadRequest(f"image {image!r} is not a digest of app {app.name!r}'s repository")
    return image


def pulled_image(user: User, app: App, value) -> str:
    """What ``deis pull value`` runs for ``app``: checked, pulled and pushed into the app's repository."""
    s = settings()
    deploying = s.scheduler != "off"
    if value == s.stack_image:
        return _import(app, value, local=True) if deploying else value
    ref = validation.image_reference(value)
    if ref.registry not in platform_registries(s):
        # the app's own credentials (`deis registry:set`), only ever sent to registries other than ours
        return _import(app, str(ref), pull_auth=registry_auth(app)) if deploying else str(ref)
    # The platform's registry holds apps' images: another app's only for those who may use that app.
    owner = ref.path.split("/")[0]
    try:
        source = find_app(owner)
    except NotFound:
        source = None
    if source is None or source.name != ref.path or not can_use_app(user, source):
        raise NotFound(f"image {value!r} not found")
    if not deploying:
        return str(ref)
    if source.id != app.id:
        return _import(app, str(ref), pull_auth=s.registry_auth)
    registry = RegistryClient(requests.Session(), s.registry, s.registry_auth)
    try:
        digest = registry.digest(app.name, ref.digest or ref.tag)
    except BuilderError as exc:
        raise BadRequest(f"could not look up {value}: {exc}") from exc
    if digest is None:
        raise NotFound(f"image {value!r} not found")
    return f"{s.registry}/{app.name}@{digest}"


def pulled_image_settings(image: str) -> tuple[int | None, bool | None]:
    """The web port and ENTRYPOINT flag of an image ``deis pull`` put into the app's repository (on
    this engine: it was just pulled or pushed here); not known when releases are records only."""
    if settings().scheduler == "off":
        return None, None
    import docker.errors

    client = _docker()
    try:
        try:
            attrs = client.images.get(image).attrs
        except docker.errors.ImageNotFound:
            attrs = client.images.pull(image, auth_config=settings().registry_auth).attrs
    except docker.errors.DockerException as exc:
        raise BadRequest(f"could not inspect {image}: {exc}") from exc
    config = attrs.get("Config") or {}
    return image_port(config), image_entrypoint(config)


def _import(app: App, source: str, *, pull_auth: dict | None = None, local: bool = False) -> str:
    s = settings()
    repository = f"{s.registry}/{app.name}"
    try:
        digest = import_image(_docker(), source, repository, push_auth=s.registry_auth, pull_auth=pull_auth,
                              local=local)
    except BuilderError as exc:
        raise BadRequest(f"could not pull {source}: {exc}") from exc
    return f"{repository}@{digest}"


def _docker():
    """The engine the platform pulls and pushes with (this machine's), one client per process."""
    client = current_app.extensions.get("deis_image_engine")
    if client is None:
        import docker

        s = settings()
        client = docker.DockerClient(base_url=s.docker_host) if s.docker_host else docker.from_env()
        client = current_app.extensions.setdefault("deis_image_engine", client)
    return client


def registry_auth(app: App) -> dict | None:
    """The app's credentials for other registries, when both parts are set."""
    values = app.pull_credentials or {}
    return dict(values) if set(values) == set(REGISTRY_KEYS) else None


@bp.get("/apps/<name>/registry")
def show_registry(name):
    """``deis registry:list``: the app's registry credentials (the password is never shown)."""
    values = app_for_user(name).pull_credentials or {}
    return {key: ("********" if key == "password" else value) for key, value in values.items()}


@bp.post("/apps/<name>/registry")
def change_registry(name):
    """``deis registry:set/unset``: ``{"values": {"username": "...", "password": "..."}}``, null unsets.
    Used by the next ``deis pull`` from another registry; not a release."""
    changes = body().get("values")
    if not isinstance(changes, dict) or not changes:
        raise BadRequest("values must be a non-empty object of username and password")
    for key, value in changes.items():
        if key not in REGISTRY_KEYS:
            raise BadRequest(f"invalid registry setting {key!r}: one of {', '.join(REGISTRY_KEYS)}")
        if value is not None and (not isinstance(value, str) or not value or len(value) > 1024
                                  or any(c in value for c in "\x00\n")):
            raise BadRequest(f"invalid {key}: a non-empty string of at most 1024 characters on one line")
    app = app_for_user(name, lock=True)
    values = {**(app.pull_credentials or {}), **changes}
    app.pull_credentials = {key: value for key, value in values.items() if value is not None} or None
    session().commit()
    return show_registry(name)


@bp.post("/apps/<name>/builds")
def create_build(name):
    """``deis pull <image>``: release an image the platform pulls for the app, optionally with a
    Procfile mapping."""
    user = current_user()
    data = body()
    procfile = data.get("procfile", {})
    if procfile:
        validation.procfile(procfile)  # refused before the pull, not after it
    elif procfile != {}:
        raise BadRequest("procfile must be an object of process type: command")
    # Pulled before the app's lock is taken: a pull may take a while, other changes need not wait.
    image = pulled_image(user, app_for_user(name), data.get("image"))
    port, entrypoint = pulled_image_settings(image)
    app = app_for_user(name, lock=True)
    build, release = release_build(session(), app, user, image=image, sha="", kind="image", procfile=procfile,
                                   port=port, entrypoint=entrypoint)
    return {**build.to_dict(), "release": release.version, "deploy": release.deploy}, 201
