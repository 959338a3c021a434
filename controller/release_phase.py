"""The release phase: what runs in one-off containers of a new release around its cutover.

Before the cutover, for every new release that changes the build or the config (Heroku's rule: not for
limits, tags, scale or restart), in the release's image and with its config:

1. app.json ``scripts.dokku.predeploy``; its changes to the filesystem are kept, as Dokku keeps them:
   the container is committed (with the image's own settings, never the config's environment), pushed
   to the app's repository, and the release runs that image by digest (``Release.image``);
2. the Procfile's ``release:`` command.

A non-zero exit or a timeout (``DEIS_RELEASE_TIMEOUT``) fails the deploy with the last lines of output;
the release before keeps serving. After the cutover, app.json's ``postdeploy`` runs; as the release
serves already, its failure is reported, not undone. Every line goes to the deploy's log (what
``git push`` and the CLI show) and to ``deis logs`` as ``app[release.vN]`` (``predeploy``,
``postdeploy``).
"""
from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session

from controller.db import begin_write
from controller.models import App, Release
from controller.scheduling import release_spec
from deiscore import appjson
from scheduler.errors import SchedulerError
from scheduler.oneoff import TIMEOUT_EXIT_CODE

log = logging.getLogger(__name__)

LAST_LINES = 10  # of a failed step's output, in the release's status


@dataclass(frozen=True)
class Step:
    name: str  # predeploy, release, postdeploy
    command: str


def steps(release: Release) -> tuple[list[Step], list[Step]]:
    """The one-off steps of ``release``'s build: (before the cutover, after it)."""
    build = release.build
    scripts = (build.app_json or appjson.empty())["scripts"]
    before = [Step(name, command) for name, command in (("predeploy", scripts["predeploy"]),
                                                        ("release", build.release_command)) if command]
    after = [Step("postdeploy", scripts["postdeploy"])] if scripts["postdeploy"] else []
    return before, after


def needed(release: Release, serving: Release | None) -> bool:
    """Does ``release`` change the build or the config of the release that serves?"""
    return (serving is None or serving.build_id != release.build_id
            or serving.config.values != release.config.values)


class Lines:
    """Raw output chunks in, whole lines out (to ``emit``); the last ones kept for a failure message."""

    def __init__(self, emit):
        self.emit = emit
        self.partial = b""
        self.last = deque(maxlen=LAST_LINES)

    def feed(self, chunk: bytes) -> None:
        *lines, self.partial = (self.partial + chunk).split(b"\n")
        for line in lines:
            self._line(line)

    def close(self) -> None:
        if self.partial:
            self._line(self.partial)
            self.partial = b""

    def _line(self, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace").rstrip("\r")
        self.last.append(text)
        self.emit(text)


class PhaseFailed(Exception):
    """A step before the cutover failed; the message says which, how, and its last lines."""


def set_image(db: Session, release: Release, image: str | None) -> None:
    """Record the image ``release`` runs (None: its build's), in a transaction of its own."""
    db.rollback()
    begin_write(db)
    db.execute(update(Release).where(Release.id == release.id).values(image=image))
    db.commit()
    release.image = image


def run_step(deployer, app: App, release: Release, spec, step: Step, progress, timeout: float,
             before_remove=None) -> None:
    """Run ``step`` in a one-off container of ``spec``; raise :class:`PhaseFailed` unless it exits 0."""
    source = f"{step.name}.v{release.version}"
    progress(f"{step.name}: running {step.command}")
    deployer.events.record(app.name, f"{step.name} of v{release.version}: {step.command}")

    def emit(line: str) -> None:
        progress(f"{step.name}: {line}")
        deployer.events.record(app.name, line, source=source)

    lines = Lines(emit)
    try:
        code = deployer.scheduler.run(spec, step.command, lines.feed, timeout=timeout, before_remove=before_remove)
    except SchedulerError as exc:
        raise PhaseFailed(f"the {step.name} command could not run: {exc}") from exc
    finally:
        lines.close()
    how = f"timed out after {timeout:g}s" if code == TIMEOUT_EXIT_CODE else f"exited with code {code}"
    deployer.events.record(app.name, f"{step.name} of v{release.version} {how}")
    if code != 0:
        tail = "".join(f"\n  {line}" for line in lines.last)
        raise PhaseFailed(f"the {step.name} command {how}" + (f"; its last lines:{tail}" if tail else ""))
    progress(f"{step.name}: done")


def committer(settings, app: str, release: Release, result: dict):
    """A ``before_remove`` that commits a predeploy container that exited 0 and pushes it to the app's
    repository; the image's reference (by digest) goes to ``result["image"]``."""
    from builder.images import push_image

    repository, tag = f"{settings.registry}/{app}", f"v{release.version}-predeploy"

    def commit(host, container_id: str, code: int) -> None:
        if code != 0:
            return
        api = host.client.api
        try:
            # The image's own settings: nothing of the container's (its config, the script as command) is kept.
            own = api.inspect_image(release.build.image)["Config"]
            conf = {key: own.get(key) for key in ("Env", "Cmd", "Entrypoint", "User", "WorkingDir", "Labels",
                                                  "ExposedPorts") if own.get(key) is not None}
            api.commit(container_id, repository=repository, tag=tag, conf=conf,
                       message=f"predeploy of {app} v{release.version}")
            digest = push_image(host.client, repository, tag, settings.registry_auth)
        except Exception as exc:  # noqa: BLE001 - engine and registry errors alike fail the phase
            raise PhaseFailed(f"the predeploy's changes could not be kept: {exc}") from exc
        finally:
            try:
                api.remove_image(f"{repository}:{tag}", noprune=True)  # the tag only: the layers stay for the deploy
            except Exception:  # noqa: BLE001 - a leftover tag is harmless
                pass
        result["image"] = f"{repository}@{digest}"
    return commit


def before_cutover(deployer, db: Session, app: App, release: Release, serving: Release | None, progress) -> None:
    """Run the steps before ``release``'s cutover when it needs them, and set the image it runs (the
    one its predeploy made, or the serving release's when the build and config are the same).
    Raises :class:`PhaseFailed`."""
    if not needed(release, serving):
        if serving.image != release.image:
            set_image(db, release, serving.image)
        return
    if release.image is not None:
        set_image(db, release, None)
    settings = deployer.settings
    for step in steps(release)[0]:
        result = {}
        commit = committer(settings, app.name, release, result) if step.name == "predeploy" else None
        run_step(deployer, app, release, release_spec(db, app, release), step, progress, settings.release_timeout,
                 commit)
        if "image" in result:
            set_image(db, release, result["image"])
            progress(f"predeploy: its changes are kept in {result['image']}")


def after_cutover(deployer, db: Session, app: App, release: Release, serving: Release | None,
                  progress) -> str | None:
    """Run the postdeploy script when the release needed the phase; what went wrong, or None."""
    if not needed(release, serving):
        return None
    for step in steps(release)[1]:
        try:
            run_step(deployer, app, release, release_spec(db, app, release), step, progress,
                     deployer.settings.release_timeout)
        except PhaseFailed as exc:
            return f"v{release.version} is serving, but {exc}"
    return None
