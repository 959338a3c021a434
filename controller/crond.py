"""``python -m controller.crond``: the cron component (``deisctl up`` starts it as ``cron``).

Every :data:`INTERVAL` seconds it reads each app's serving release, asks :func:`controller.cron.due`
which tick of each cron job to handle, claims it in Redis and starts the job as a one-off container of
that release, in a thread of its own (a long job never holds up the others). Between rounds it takes the
runs queued by ``deis cron:run``. Each run's output and its start and exit are lines of ``deis logs``,
tagged ``app[cron.<id>]``. A run is killed after :data:`RUN_TIMEOUT` seconds (an hour; its exit code
is then 124). When the component stops (``deisctl down``) it kills its runs in progress, so no container
outlives the process that follows its output and enforces its timeout.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from controller import cron, releases
from controller.models import App
from controller.scheduling import release_spec
from scheduler.errors import SchedulerError

log = logging.getLogger(__name__)
INTERVAL = 1.0  # seconds between rounds: a tick starts within about a second of its time
RUN_TIMEOUT = 3600.0  # seconds a run may last before it is killed
TIMEOUT_EXIT_CODE = 124
MAX_LINE = 8192  # characters of one logged output line; a longer one is split


class LineWriter:
    """Raw output chunks in, one ``record(line)`` per complete line out (partial lines are held)."""

    def __init__(self, record):
        self.record, self.pending = record, b""

    def __call__(self, chunk: bytes) -> None:
        self.pending += chunk
        *lines, self.pending = self.pending.split(b"\n")
        for line in lines:
            self._emit(line)
        while len(self.pending) > MAX_LINE:
            self._emit(self.pending[:MAX_LINE])
            self.pending = self.pending[MAX_LINE:]

    def close(self) -> None:
        if self.pending:
            self._emit(self.pending)
            self.pending = b""

    def _emit(self, line: bytes) -> None:
        self.record(line.decode("utf-8", "replace").rstrip("\r"))


class Crond:
    """The loop's state: runs in progress of this process (their kill handles and threads)."""

    def __init__(self, sessions: sessionmaker[Session], store: cron.CronStore, deployer,
                 timeout: float = RUN_TIMEOUT, deadline: float = cron.MISSED_DEADLINE):
        self.sessions, self.store, self.deployer = sessions, store, deployer
        self.timeout, self.deadline = timeout, deadline
        self.lock = threading.Lock()
        self.runs: dict[str, dict] = {}  # run id -> {"app", "job", "thread", "kill", "stop" (why, once asked)}

    # -- scheduled ticks --------------------------------------------------------------------------------

    def round(self, now: datetime | None = None) -> list[str]:
        """Handle every due tick of every app's cron jobs; return the ids of the runs started."""
        now = now or datetime.now(timezone.utc)
        started = []
        with self.sessions() as db:
            for app in db.scalars(select(App).order_by(App.name)):
                release = releases.serving(db, app)
                for job in cron.jobs_of(release):
                    try:
                        run = self._handle(db, app, release, job, now)
                    except (SchedulerError, RedisError, ValueError) as exc:  # one job's trouble is not all's
                        log.warning("cron job %s of %s: %s", job["id"], app.name, exc)
                        continue
                    if run:
                        started.append(run)
        return started

    def _handle(self, db: Session, app: App, release, job: dict, now: datetime) -> str | None:
        record = self.store.record(app.name, job["id"], since=app.created)
        last = cron.parse_iso(record.get("last_tick"))
        # A job never handled counts from its release (or the deadline, if older): a tick before the job
        # existed is not owed.
        since = last or max(cron.utc(release.created), cron.utc(now) - timedelta(seconds=self.deadline))
        due = cron.due(job["schedule"], since, now, self.deadline)
        if due.tick is None:
            return None
        if last is not None and (due.missed or not due.run):
            skipped = due.missed + (0 if due.run else 1)
            more = "+" if due.missed >= cron.MAX_MISSED_COUNT else ""
            self._event(app.name, job["id"], f"skipped {skipped}{more} run(s) missed after {cron.iso(last)}: "
                                             f"more than {self.deadline:g} s late (the cron component was down, "
                                             "or the job was not in the serving release)")
        run = None
        if due.run and self.store.claim(app.name, job["id"], due.tick):
            run = self.start(app.name, release.version, release_spec(db, app, release), job,
                             reason=f"schedule {job['schedule']}, tick {cron.iso(due.tick)}", scheduled=True)
        self.store.handled(app.name, job["id"], due.tick)
        return run

    # -- manual runs ------------------------------------------------------------------------------------

    def take_requests(self, timeout: float) -> list[str]:
        """Start the runs queued by ``deis cron:run`` (waiting up to ``timeout`` s for the first)."""
        started = []
        deadline = time.monotonic() + timeout
        while True:
            request = self.store.next_request(deadline - time.monotonic())
            if request is None:
                return started
            run = self.requested(request)
            if run:
                started.append(run)
            if time.monotonic() >= deadline:
                return started

    def requested(self, request: dict) -> str | None:
        with self.sessions() as db:
            app = db.scalar(select(App).where(App.name == request["app"]))
            if app is None:
                return None  # destroyed since
            late = time.time() - request.get("asked", time.time())
            if late > self.deadline:  # asked while the component was down: not started much later
                self._event(app.name, request["job"], f"run {request['run']} not started: asked {late:.0f} s ago "
                                                       f"(more than {self.deadline:g} s)")
                return None
            release = releases.serving(db, app)
            job = next((j for j in cron.jobs_of(release) if j["id"] == request["job"]), None)
            if job is None:
                self._event(app.name, request["job"], f"run {request['run']} not started: no such job in the "
                                                       "serving release (deployed since it was asked for)")
                return None
            return self.start(app.name, release.version, release_spec(db, app, release), job,
                              reason="run by deis cron:run", scheduled=False, run=request["run"])

    # -- runs -------------------------------------------------------------------------------------------

    def start(self, app: str, version: int, spec, job: dict, reason: str, scheduled: bool,
              run: str | None = None) -> str | None:
        """Start a run of ``job`` in a thread, as its concurrency policy says; return its id (None: skipped)."""
        job_id = job["id"]
        running = self.store.running(app, job_id)
        action = cron.decide(job["concurrency_policy"], len(running)) if scheduled else "start"
        if action == "skip":
            self._event(app, job_id, f"skipped ({reason}): run {running[0]} is still running "
                                     "(concurrency_policy forbid)")
            return None
        if action == "replace":
            for old in running:
                self.stop(old, why="replaced by a new run (concurrency_policy replace)")
        run = run or uuid.uuid4().hex[:12]
        started_at = datetime.now(timezone.utc)
        self.store.started(app, job_id, run, version, started_at)
        thread = threading.Thread(target=self._run, args=(app, version, spec, job, run, reason),
                                  name=f"cron-{app}-{job_id}-{run}", daemon=True)
        with self.lock:
            self.runs[run] = {"app": app, "job": job_id, "thread": thread, "kill": None}
        thread.start()
        return run

    def _run(self, app: str, version: int, spec, job: dict, run: str, reason: str) -> None:
        job_id, began = job["id"], time.monotonic()
        self._event(app, job_id, f"run {run} started on v{version} ({reason}): {job['command']}")
        output = LineWriter(lambda line: self._event(app, job_id, line))
        code = None
        try:
            code = self.deployer.scheduler.run(spec, job["command"], output, timeout=self.timeout,
                                               on_start=lambda kill: self._kill_handle(run, kill))
            output.close()
            why = f" (timed out after {self.timeout:g} s)" if code == TIMEOUT_EXIT_CODE else ""
            self._event(app, job_id, f"run {run} exited with code {code}{why} after {time.monotonic() - began:.1f} s")
        except SchedulerError as exc:
            output.close()
            self._event(app, job_id, f"run {run} failed to start: {exc}")
        except Exception:  # noqa: BLE001 - a run's failure must not end the component; the log says why
            log.exception("run %s of %s/%s", run, app, job_id)
            self._event(app, job_id, f"run {run} failed: internal error (see the cron component's log)")
        finally:
            self.store.finished(app, job_id, run, code, time.monotonic() - began)
            with self.lock:
                self.runs.pop(run, None)

    def _kill_handle(self, run: str, kill) -> None:
        with self.lock:
            entry = self.runs.get(run)
            if entry is None:
                return
            entry["kill"] = kill
            doomed = entry.get("stop")
        if doomed:  # stopped while its container was starting
            kill()

    def stop(self, run: str, why: str) -> bool:
        """Kill a run of this process (one whose container is still starting, once it runs); a run of an
        earlier process cannot be reached (False)."""
        with self.lock:
            entry = self.runs.get(run)
            if entry is None:
                log.warning("run %s is not this process's: cannot stop it", run)
                return False
            entry["stop"], kill = why, entry["kill"]
        self._event(entry["app"], entry["job"], f"run {run} stopped: {why}")
        if kill is not None:
            kill()
        return True

    def beat(self) -> None:
        """Renew the heartbeat of this process's runs (so ``forbid`` sees them) and of the component."""
        with self.lock:
            runs = [(run, e["app"], e["job"]) for run, e in self.runs.items()]
        for run, app, job in runs:
            self.store.beat(app, job, run)
        self.store.alive(os.getpid())

    def shutdown(self, wait: float = 8.0) -> None:
        """Kill the runs in progress and wait (a little) for their containers to be removed."""
        with self.lock:
            runs = list(self.runs)
        for run in runs:
            self.stop(run, why="the cron component is stopping")
        deadline = time.monotonic() + wait
        with self.lock:
            threads = [e["thread"] for e in self.runs.values()]
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _event(self, app: str, job_id: str, message: str) -> None:
        self.deployer.events.record(app, message, source=f"cron.{job_id}")

    def serve(self, stop: threading.Event, interval: float = INTERVAL) -> None:
        while not stop.is_set():
            began = time.monotonic()
            try:
                self.beat()
                self.round()
                self.take_requests(interval - (time.monotonic() - began))
            except Exception:  # noqa: BLE001 - Redis or the database away for a moment: try next round
                log.exception("cron round failed")
                stop.wait(interval)


def main(argv: list[str] | None = None) -> int:
    from redis import Redis

    from controller import db
    from controller.app import make_deployer
    from deiscore import settings as platform_settings

    parser = argparse.ArgumentParser(prog="python -m controller.crond", description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=INTERVAL, help=f"seconds between rounds ({INTERVAL:g})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = platform_settings.load()
    if settings.scheduler == "off":
        print("no cron jobs run with DEIS_SCHEDULER=off", file=sys.stderr)
        return 2
    sessions = db.make_sessionmaker(db.make_engine(settings.database_url))
    crond = Crond(sessions, cron.CronStore(Redis.from_url(settings.redis_url)), make_deployer(settings))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    log.info("cron component started (pid %d)", os.getpid())
    crond.serve(stop, args.interval)
    crond.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
