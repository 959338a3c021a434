"""The build job, run by rq workers: git tree -> image in the private registry.

The SSH session enqueues :func:`run_build` with plain data (app, sha, repo path, config, build
id) and relays the job's build log to the pushing client. The job never touches refs,
releases or the controller: it reports the image it pushed, or why it failed.
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from builder import buildpacks, dockerfile, git, images, slug
from builder.buildlog import log_key
from builder.errors import BuilderError
from builder.procfile import parse_procfile
from builder.registry import RegistryClient
from deiscore import appjson
from deiscore import jobs as platform_jobs
from deiscore.joblog import JobLog

log = logging.getLogger(__name__)

QUEUE = "builds"
JOB_TIMEOUT = 1800
SERIALIZER = platform_jobs.SERIALIZER


ROOT_FILES = ("Procfile", "Dockerfile", ".buildpacks", ".env", "app.json")
RELEASE_TYPE = "release"  # the Procfile's release phase (Heroku): run once per release, not a process type


@dataclass(frozen=True)
class BuildPlan:
    kind: str  # "dockerfile" | "buildpack"
    procfile: dict[str, str] | None  # None: no Procfile in the repo
    buildpacks: buildpacks.Selection | None  # None: a Dockerfile build
    app_json: dict | None = None  # the sections of app.json the platform uses (None: no app.json)


def plan_build(files: dict[str, bytes], config: dict[str, str], shipped: list[str] = ()) -> BuildPlan:
    """Decide the kind of build from the repo's root files (:data:`ROOT_FILES`) and the config: a Dockerfile
    app builds with Docker unless it chose buildpacks (``BUILDPACK_URL``, ``.buildpacks``), as on Dokku."""
    procfile = None
    if "Procfile" in files:
        procfile = parse_procfile(files["Procfile"].decode("utf-8", "replace"))
    app_json = None
    if "app.json" in files:
        try:
            app_json = appjson.parse(files["app.json"])
        except appjson.AppJsonError as exc:
            raise BuilderError(exc.detail) from None
    selection = buildpacks.select(files, config, list(shipped))
    if "Dockerfile" in files and selection.detect:
        return BuildPlan(kind="dockerfile", procfile=procfile, buildpacks=None, app_json=app_json)
    return BuildPlan(kind="buildpack", procfile=procfile, buildpacks=selection, app_json=app_json)


def process_types(plan: BuildPlan, defaults: dict[str, str]) -> dict[str, str]:
    """The Procfile wins; without one, the buildpack's defaults (or the image's CMD as ``cmd``)."""
    return dict(plan.procfile) if plan.procfile is not None else dict(defaults)


def root_files(repo_path: Path, sha: str, names=ROOT_FILES) -> dict[str, bytes]:
    from dulwich.repo import Repo

    with Repo(str(repo_path)) as repo:
        tree = repo[repo[sha.encode()].tree]
        found = {}
        for name in names:
            if name.encode() in tree:
                _, blob = tree[name.encode()]
                found[name] = repo[blob].data
        return found


def archive(repo_path: Path, sha: str, dest: Path, prefix: str = "") -> Path:
    argv = ["git", f"--git-dir={repo_path}", "archive", "--format=tar", f"--output={dest}"]
    if prefix:
        argv.append(f"--prefix={prefix}")
    argv.append(sha)
    result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        raise BuilderError(f"git archive {sha} failed: {result.stdout.strip()}")
    return dest


def build(request: dict, *, settings, redis, docker_client, registry, emit,
          keep_images: int = images.KEEP_IMAGES, discard=slug.remove_container) -> dict:
    """Build ``request['sha']`` of ``request['app']``; return what the controller's builds hook takes.

    ``discard(container)`` disposes of the containers the build used.
    """
    app, sha, config = request["app"], request["sha"], request.get("config") or {}
    repo_path = Path(request["repo"])
    started = time.monotonic()
    shipped = buildpacks.shipped_buildpacks()
    plan = plan_build(root_files(repo_path, sha), config, list(shipped))
    repository = f"{settings.registry}/{app}"
    network = build_network(settings, docker_client, app)
    work_root = settings.home / "tmp"
    work_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work_root, prefix=f"build-{app}-") as tmp:
        tmp = Path(tmp)
        if plan.kind == "dockerfile":
            emit("-----> Dockerfile app detected")
            text = root_files(repo_path, sha, ("Dockerfile",))["Dockerfile"].decode("utf-8", "replace")
            built = dockerfile.build_dockerfile_image(
                docker_client, context_tar=archive(repo_path, sha, tmp / "context.tar"), dockerfile=text,
                config=config, repository=repository, tag=sha, emit=emit, network=network)
            if "web" not in (plan.procfile or {}):
                emit(f"-----> web runs the image's command: {built.command or '(none)'}")
            defaults = {"web": ""}  # "": the image's own command
        else:
            if plan.buildpacks.origin != "detection":
                emit(f"-----> Buildpacks from {plan.buildpacks.origin}: "
                     + ", ".join(e if isinstance(e, str) else e[0] for e in plan.buildpacks.entries))
            slug_path = settings.home / "slugs" / app / f"{sha}.tar"
            compiled = slug.compile_slug(
                docker_client, build_image=settings.stack_build_image,
                source_tar=archive(repo_path, sha, tmp / "source.tar", prefix="app/"),
                buildpacks={name: shipped[name] for name in plan.buildpacks.shipped()},
                command=buildpacks.build_command(plan.buildpacks, git.submodules(repo_path, sha)),
                config=config, cache_dir=app_cache(settings, app, request.get("app_id")),
                slug_path=slug_path, emit=emit, discard=discard, network=network)
            defaults = compiled.defaults
            run_image = settings.stack_runtimes_image if compiled.needs_runtimes() else settings.stack_image
            emit(f"-----> Compiled slug size is {slug_path.stat().st_size / 1e6:.1f} MB; it runs on {run_image}")
            slug.slug_image(docker_client, stack_image=run_image, slug_path=slug_path,
                            repository=repository, tag=sha, discard=discard)
    types = process_types(plan, defaults)
    release_command = types.pop(RELEASE_TYPE, None)
    if release_command is not None:
        emit(f"-----> Release phase: {release_command}")
    if plan.procfile is not None:
        emit(f"-----> Procfile declares types -> {', '.join(types) or '(none)'}")
    elif types:
        emit(f"-----> Default types for this app -> {', '.join(types)}")
    else:
        emit("-----> No Procfile and no default process types: nothing will run until you add a Procfile")
    emit(f"-----> Pushing image {repository}:{sha[:7]} to the registry")
    digest = images.push_image(docker_client, repository, sha, settings.registry_auth)
    removed = images.record_and_collect(redis, registry, docker_client, app, repository, sha, keep_images)
    if removed:
        log.info("collected old images of %s: %s", app, ", ".join(removed))
    emit(f"-----> Build complete in {time.monotonic() - started:.1f}s")
    return {"image": f"{repository}@{digest}", "sha": sha, "kind": plan.kind, "procfile": types,
            "release_command": release_command, "app_json": plan.app_json,
            **({"port": built.port, "entrypoint": built.entrypoint} if plan.kind == "dockerfile" else {})}


APP_ID_FILE = ".deis-app-id"


def app_cache(settings, app: str, app_id: str | None) -> Path:
    """The app's dependency cache, kept between its builds; a cache left by a destroyed app of the same
    name is emptied first (it is another app: nothing of it may leak into this one's builds)."""
    cache = settings.home / "cache" / app
    marker = cache / APP_ID_FILE
    if app_id and cache.exists() and (not marker.exists() or marker.read_text().strip() != app_id):
        log.info("emptying the build cache of a destroyed app %s", app)
        shutil.rmtree(cache)
    cache.mkdir(parents=True, exist_ok=True)
    if app_id and not marker.exists():
        marker.write_text(app_id + "\n")
    return cache


def forget_app(request: dict) -> dict:
    """The rq entry point run when an app is destroyed: its build cache, slugs and repository go (each only
    if it is still that app's: a new app of the same name may have pushed since)."""
    from deiscore.settings import load

    settings = load()
    app, app_id = request["app"], request["app_id"]
    removed = []
    for path, marker in ((settings.home / "cache" / app, APP_ID_FILE), (settings.home / "repos" / f"{app}.git",
                                                                       git.APP_ID_FILE)):
        owner = path / marker
        if path.exists() and (not owner.exists() or owner.read_text().strip() == app_id):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(str(path))
    slugs = settings.home / "slugs" / app
    if slugs.exists() and not (settings.home / "repos" / f"{app}.git").exists():
        shutil.rmtree(slugs, ignore_errors=True)
        removed.append(str(slugs))
    log.info("forgot the destroyed app %s: %s", app, ", ".join(removed) or "nothing to remove")
    return {"removed": removed}


def enqueue_forget(connection, app: str, app_id: str) -> None:
    """Have a build worker remove what the builder kept of the destroyed ``app`` (:func:`forget_app`)."""
    build_queue(connection).enqueue(forget_app, {"app": app, "app_id": app_id}, job_timeout=600,
                                    result_ttl=600, failure_ttl=86400, description=f"forget {app}")


def build_network(settings, docker_client, app: str) -> str:
    """The network build containers run on: the app's own on this engine, so a build is walled off
    like the app's processes (no other app's containers, none of the platform's services; see
    :mod:`scheduler.networks` and :mod:`scheduler.firewall`) and still reaches package registries."""
    from scheduler.networks import AddressPool, AppNetworks
    from scheduler.scheduler import platform_id

    try:
        return AppNetworks(docker_client, platform_id(settings.home), AddressPool.from_settings(settings)).ensure(app)
    except Exception as exc:  # noqa: BLE001 - engine and pool errors alike: the build cannot start walled off
        raise BuilderError(f"could not prepare the build network of {app}: {exc}") from exc


def run_build(request: dict) -> dict:
    """The rq entry point. Writes the build log; returns ``{"ok": bool, ...}``."""
    import docker
    import requests
    from rq import get_current_job

    from deiscore.settings import load

    settings = load()
    redis = get_current_job().connection
    build_log = JobLog(redis, log_key(request["build_id"]))
    docker_client = docker.DockerClient(base_url=settings.docker_host) if settings.docker_host \
        else docker.from_env()
    registry = RegistryClient(requests.Session(), settings.registry, settings.registry_auth)
    used_containers = []  # removed once the user has the outcome: removal is not on their clock
    try:
        result = build(request, settings=settings, redis=redis, docker_client=docker_client,
                       registry=registry, emit=build_log.line, keep_images=images.keep_images(os.environ),
                       discard=used_containers.append)
        build_log.end(True, result=result)
        return {"ok": True, **result}
    except BuilderError as exc:
        message = str(exc)
        build_log.line(f" !     {message}")
        build_log.end(False, error=message, shown=True)
        return {"ok": False, "error": message}
    except Exception:
        build_log.end(False, error="the builder hit an internal error; the operator's worker log has details")
        raise
    finally:
        for container in used_containers:
            slug.remove_container(container)
        docker_client.close()


def build_queue(connection):
    """The builds queue on ``connection``, with the worker's serializer (see :mod:`builder.worker`)."""
    return platform_jobs.queue(connection, QUEUE)


def enqueue_build(queue, request: dict):
    """Put a build on the queue (from :func:`build_queue`)."""
    return queue.enqueue(run_build, request, job_timeout=JOB_TIMEOUT, result_ttl=3600, failure_ttl=86400,
                         description=f"build {request['app']} {request['sha'][:7]}")
