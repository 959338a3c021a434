"""One pushed ref: refuse it, or build it, release it and only then move it.

Runs in the SSH session thread. One build at a time per app: a Redis lock (so pushes
arriving at any builder process queue up). A push that waited while another push to the
same branch succeeded is refused as stale, as ``git-receive-pack`` refuses a ref that
moved under it; nothing is built twice and no release is lost.
"""
from __future__ import annotations

import logging
import time
import uuid

from builder import buildlog
from builder.errors import HookError
from builder.jobs import enqueue_build
from deiscore import joblog
from deiscore import jobs as platform_jobs

log = logging.getLogger(__name__)

DEPLOYABLE_REFS = (b"refs/heads/master", b"refs/heads/main")
ZERO_SHA = b"0" * 40
LOCK_TTL = 3600
LOCK_WAIT = 1800
QUEUED_WARNING_AFTER = 10.0


def ref_refusal(ref: bytes, new: bytes) -> str | None:
    """Why this ref update is not deployed, or None when it is."""
    name = ref.decode("utf-8", "replace")
    short = name.removeprefix("refs/heads/").removeprefix("refs/tags/")
    if ref not in DEPLOYABLE_REFS:
        return (f"only master and main are deployed; push this branch with "
                f"'git push deis {short}:master'" if name.startswith("refs/heads/")
                else f"only the branches master and main are deployed, not {name}")
    if new == ZERO_SHA:
        return f"deleting {short} is not allowed"
    return None


def lock_key(app: str) -> str:
    return f"deis:builder:lock:{app}"


class RefUpdater:
    """The ``update`` callback of :class:`builder.git.BuildingReceivePackHandler` for one push."""

    def __init__(self, *, redis, queue, hooks, grant, repo_path, lock_wait: float = LOCK_WAIT):
        self.redis = redis
        self.queue = queue
        self.hooks = hooks
        self.grant = grant
        self.repo_path = repo_path
        self.lock_wait = lock_wait

    def __call__(self, repo, ref: bytes, old: bytes, new: bytes, progress) -> str | None:
        refusal = ref_refusal(ref, new)
        if refusal:
            return refusal
        app = self.grant.app
        lock = self.redis.lock(lock_key(app), timeout=LOCK_TTL, blocking=True, blocking_timeout=self.lock_wait)
        if not lock.acquire(blocking=False):
            progress(f"-----> Another push to {app} is building; waiting for it to finish\n")
            if not lock.acquire():
                return f"another build of {app} is still running; try again later"
        try:
            return self._update_locked(repo, ref, old, new, progress)
        finally:
            try:
                lock.release()
            except Exception as exc:  # noqa: BLE001 - an expired lock must not fail a finished push
                log.warning("releasing the build lock of %s: %s", app, exc)

    def _update_locked(self, repo, ref, old, new, progress) -> str | None:
        app = self.grant.app
        branch = ref.decode().removeprefix("refs/heads/")
        current = repo.refs.as_dict().get(ref, ZERO_SHA)
        if current == new:
            progress(f"-----> {branch} is already at {new[:7].decode()}; nothing to build\n")
            return None
        if current != old:
            return (f"stale info: {branch} moved to {current[:7].decode()} while this push waited; "
                    "fetch, merge and push again")
        sha = new.decode()
        result = self._build(sha, progress)
        if result is None:
            return "build failed"
        progress("-----> Releasing...\n")
        try:
            response = self.hooks.register_build({
                "app": app, "user": self.grant.user, "image": result["image"], "sha": sha,
                "kind": result["kind"], "procfile": result["procfile"],
                "port": result.get("port"), "entrypoint": result.get("entrypoint"),
                "release_command": result.get("release_command"), "app_json": result.get("app_json"),
            })
        except HookError as exc:
            progress(f" !     Release failed: {exc}\n")
            return "release failed"
        failure = self._follow_deploy(response.get("deploy"), progress)
        if failure is not None:
            progress(f" !     Deploy failed: {failure}\n")
            serving = response.get("serving")
            progress(f" !     v{serving} keeps serving.\n" if serving else " !     Nothing of this app is serving yet.\n")
            return "deploy failed"
        if not repo.refs.set_if_equals(ref, None if old == ZERO_SHA else old, new):
            return "failed to update the ref"
        if repo.refs.as_dict().get(repo.refs.get_symrefs().get(b"HEAD", b"")) is None:
            repo.refs.set_symbolic_ref(b"HEAD", ref)
        release = response.get("release") or {}
        progress(f"-----> Launching... done, {app} v{release.get('version', '?')} deployed to Deis\n\n"
                 f"       {response.get('url', '')}\n\n"
                 "       To learn more, use 'deis help' or visit https://deis.com\n\n")
        return None

    def _follow_deploy(self, deploy: dict | None, progress) -> str | None:
        """Relay the release's deploy until traffic is on it (the old release drains after the push
        returns); why it failed, or None."""
        if deploy is None:
            return None
        key = joblog.deploy_key(deploy["app"], deploy["id"])
        for event in joblog.follow(self.redis, key, lambda: platform_jobs.alive(self.redis, deploy["id"])):
            if "line" in event:
                progress(f"       {event['line']}\n")
            elif event.get("live"):
                return None
            elif event.get("end"):
                return None if event.get("ok") else event.get("error") or "no detail"
        return None

    def _build(self, sha: str, progress) -> dict | None:
        """Run the build job, relaying its log; the job's result, or None when it failed."""
        app = self.grant.app
        build_id = uuid.uuid4().hex
        key = buildlog.log_key(build_id)
        progress(f"-----> Building {app} ({sha[:7]})\n")
        job = enqueue_build(self.queue, {"build_id": build_id, "app": app, "sha": sha,
                                         "repo": str(self.repo_path), "config": self.grant.config,
                                         "app_id": self.grant.app_id})
        enqueued = time.monotonic()
        warned = False

        def still_running():
            nonlocal warned
            status = job.get_status(refresh=True)
            status = getattr(status, "value", status)
            if status in ("failed", "stopped", "canceled"):
                return False, f"the build job {status}; ask the operator to check the builder worker log"
            if status == "queued" and not warned and time.monotonic() - enqueued > QUEUED_WARNING_AFTER:
                progress("-----> Waiting for a build worker...\n")
                warned = True
            return True, ""

        for event in buildlog.follow(self.redis, key, still_running):
            if "line" in event:
                progress(event["line"] + "\n")
            elif event.get("end"):
                if event.get("ok"):
                    return event["result"]
                log.info("build of %s %s failed: %s", app, sha[:7], event.get("error"))
                if not event.get("shown"):
                    progress(f" !     {event.get('error')}\n")
                return None
        return None
