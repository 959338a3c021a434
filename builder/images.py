"""App images in the private registry: push (an app's build, or an image the platform pulled for
the app), and keep only the last N per app.

Which tags are newest is recorded in Redis (a list per app, newest first) when the builder
pushes them; registry tags carry no order of their own. N is ``DEIS_BUILDER_KEEP_IMAGES``
(default 5): releases older than the last N builds can no longer be rolled back to.
"""
from __future__ import annotations

import logging

from builder.errors import BuilderError, RegistryError

log = logging.getLogger(__name__)

KEEP_IMAGES = 5
KEEP_IMAGES_ENV = "DEIS_BUILDER_KEEP_IMAGES"


def keep_images(env) -> int:
    """How many images per app to keep, from ``DEIS_BUILDER_KEEP_IMAGES`` (at least 1)."""
    raw = env.get(KEEP_IMAGES_ENV) or str(KEEP_IMAGES)
    try:
        keep = int(raw)
    except ValueError:
        raise ValueError(f"{KEEP_IMAGES_ENV} must be an integer, got {raw!r}") from None
    if keep < 1:
        raise ValueError(f"{KEEP_IMAGES_ENV} must be at least 1, got {keep}")
    return keep


def history_key(app: str) -> str:
    return f"deis:builder:images:{app}"


def push_image(docker_client, repository: str, tag: str, auth: dict) -> str:
    """Push ``repository:tag`` as the account ``auth``; return the manifest digest the registry stored
    (what releases run: a tag can be moved, a digest cannot)."""
    import docker.errors

    digest = None
    try:
        for event in docker_client.images.push(repository, tag=tag, stream=True, decode=True, auth_config=auth):
            if "error" in event:
                raise RegistryError(f"pushing {repository}:{tag}: {event['error']}")
            digest = (event.get("aux") or {}).get("Digest", digest)
    except docker.errors.DockerException as exc:
        raise RegistryError(f"pushing {repository}:{tag}: {exc}") from exc
    if not digest:
        raise RegistryError(f"pushing {repository}:{tag}: the engine reported no digest")
    return digest


def import_image(docker_client, source: str, repository: str, *, push_auth: dict, pull_auth: dict | None = None,
                 local: bool = False) -> str:
    """Make ``source`` an image of ``repository`` (an app's repository in the platform registry);
    return its digest there.

    ``source`` is pulled from its registry (as ``pull_auth``; None: anonymously), so that what runs is
    what that registry serves, never an image that merely happens to be on this engine; ``local``: the
    platform's own image (the stack), which is only on this engine.
    """
    import docker.errors

    try:
        image = docker_client.images.get(source) if local else \
            docker_client.images.pull(source, auth_config=pull_auth)
        tag = "pulled-" + image.id.split(":")[-1][:12]
        image.tag(repository, tag=tag)
    except docker.errors.ImageNotFound as exc:
        raise RegistryError(f"image {source} not found") from exc
    except docker.errors.DockerException as exc:
        raise RegistryError(f"pulling {source}: {_explain(exc)}") from exc
    return push_image(docker_client, repository, tag, push_auth)


def _explain(exc) -> str:
    return str(getattr(exc, "explanation", None) or exc)


def tags_to_collect(history: list[str], keep: int) -> list[str]:
    """Tags beyond the newest ``keep`` of a newest-first history, each once."""
    seen: list[str] = []
    for tag in history:
        if tag not in seen:
            seen.append(tag)
    return seen[keep:]


def record_and_collect(redis, registry, docker_client, app: str, repository: str, tag: str,
                       keep: int = KEEP_IMAGES) -> list[str]:
    """Record ``tag`` as the app's newest image and delete the ones beyond the newest ``keep``.

    ``repository`` is the local image name (``<registry>/<app>``); in the registry's API the
    repository is named ``<app>``.
    """
    import docker.errors

    key = history_key(app)
    pipe = redis.pipeline()
    pipe.lrem(key, 0, tag)
    pipe.lpush(key, tag)
    pipe.lrange(key, 0, -1)
    history = [t.decode() if isinstance(t, bytes) else t for t in pipe.execute()[-1]]
    old = tags_to_collect(history, keep)
    removed = []
    for old_tag in old:
        try:
            registry.delete_tag(app, old_tag)
        except BuilderError as exc:
            log.warning("could not delete %s:%s from the registry: %s", repository, old_tag, exc)
            continue
        try:
            docker_client.images.remove(f"{repository}:{old_tag}", noprune=False)
        except docker.errors.ImageNotFound:
            pass
        except docker.errors.DockerException as exc:  # in use by a running container: fine
            log.info("kept local image %s:%s: %s", repository, old_tag, exc)
        redis.lrem(key, 0, old_tag)
        removed.append(old_tag)
    return removed
