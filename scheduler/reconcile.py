"""The reconcile loop: compare what should run with what runs, and repair the difference.

For every desired :class:`ReleaseSpec` (the release that should be serving each app):
- a newer release than the deployed one is deployed (an interrupted or missed deploy), unless a
  deploy of that release already failed and said why: then the deployed release is kept healthy
  (from the spec the scheduler stored) until the user's next change;
- crashed or missing processes of the deployed release are restarted, with exponential backoff
  per process (restart counts show in ``Scheduler.status``; crashes in the app's events);
- containers of superseded releases and extra processes are stopped;
- the router is pointed at the running web containers.
Apps being deployed right now (lock held) are skipped until the next round.

:func:`run_loop` runs it every few seconds with the desired specs of each round from a callable
(``python -m controller.reconcile`` passes the controller's), and meanwhile takes each container
that dies out of the router at once, on its engine's event (:mod:`scheduler.deathwatch`).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

from scheduler.containers import ONEOFF_TYPE
from scheduler.deathwatch import DeathWatch
from scheduler.errors import DeployError, SchedulerError
from scheduler.placement import converge
from scheduler.scheduler import Progress, Scheduler
from scheduler.session import sweep
from scheduler.spec import ReleaseSpec
from scheduler.state import CrashRecord

log = logging.getLogger(__name__)

BACKOFF_BASE = 2.0
BACKOFF_MAX = 300.0
STABLE_AFTER = 60.0  # a process up this long has its crash count reset


@dataclass
class ReconcileReport:
    restarted: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    deployed: list[str] = field(default_factory=list)
    backing_off: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # apps locked by a deploy in progress
    errors: list[str] = field(default_factory=list)


def backoff(restarts: int) -> float:
    """Seconds to wait before the next restart after ``restarts`` restarts: 2, 4, 8, ... up to 5 min."""
    return min(BACKOFF_BASE * 2 ** max(restarts - 1, 0), BACKOFF_MAX)


def record_crash(record: CrashRecord | None, exit_code: int | None, now: float) -> CrashRecord:
    record = record or CrashRecord()
    restarts = record.restarts + 1
    return CrashRecord(restarts=restarts, last_exit_code=exit_code, last_crash=now, next_attempt=now + backoff(restarts))


def reconcile_once(scheduler: Scheduler, desired: Iterable[ReleaseSpec], progress: Progress | None = None,
                   clock: Callable[[], float] = time.time) -> ReconcileReport:
    """One pass over every desired app; errors of one app are reported and do not stop the others."""
    progress = progress or (lambda line: log.info("%s", line))
    report = ReconcileReport()
    for spec in desired:
        with scheduler.state.app_lock(spec.app, blocking=False) as locked:
            if not locked:
                report.skipped.append(spec.app)
                continue
            try:
                _reconcile_app(scheduler, spec, report, progress, clock)
            except SchedulerError as exc:
                report.errors.append(f"{spec.app}: {exc}")
                log.warning("reconcile of %s failed: %s", spec.app, exc)
    return report


def _reconcile_app(scheduler: Scheduler, spec: ReleaseSpec, report: ReconcileReport, progress: Progress,
                   clock: Callable[[], float]) -> None:
    state = scheduler.state
    deployed = state.deployed_version(spec.app)
    if deployed is not None and spec.version < deployed:
        return  # the controller has not caught up with a deploy that just finished
    crashes = state.crashes(spec.app)
    if deployed is None or spec.version > deployed:
        if spec.version != state.failed_version(spec.app):
            _deploy_missed(scheduler, spec, crashes, report, progress, clock)
            return
        stored = state.deployed_spec(spec.app)
        if stored is None:
            return
        spec = ReleaseSpec.from_dict(stored)

    now = clock()
    draining = state.draining(spec.app)  # a finished cutover stops these itself
    actual = [c for c in scheduler.containers(spec.app) if c.type != ONEOFF_TYPE and c.id not in draining]
    slots = scheduler.slots_for(spec, [c for c in actual if c.version == spec.version])
    plan = converge(spec.version, slots, actual)
    for container in plan.keep:
        started = container.started_at.timestamp() if container.started_at else now
        if container.key in crashes and now - started >= STABLE_AFTER:
            del crashes[container.key]
    dead = {c.key: c for c in plan.replace}
    to_start = []
    for slot in plan.start:
        record = crashes.get(slot.key)
        if record is not None and now < record.next_attempt:
            report.backing_off.append(f"{spec.app} {slot.key}")
            continue
        exited = dead.get(slot.key)
        crashes[slot.key] = record_crash(record, exited.exit_code if exited else None, now)
        what = f"exited with code {exited.exit_code}" if exited and exited.exit_code is not None else "is missing"
        state.record_event(spec.app, f"{slot.key} (v{spec.version}) {what}; restart {crashes[slot.key].restarts}")
        to_start.append(slot)
    scheduler.remove([dead[s.key] for s in to_start if s.key in dead])
    for slot in to_start:
        try:
            for container in scheduler.start_processes(spec, [(slot, None)], progress):
                progress(f"restarted {container.name} (restart {crashes[slot.key].restarts})")
                report.restarted.append(container.name)
        except SchedulerError as exc:
            report.errors.append(f"{spec.app} {slot.key}: {exc}")
            state.record_event(spec.app, f"restart of {slot.key} failed: {exc}")
    state.set_crashes(spec.app, crashes)
    if scheduler.sync_router(spec):
        progress(f"router: {spec.app} upstreams re-synced")
    superseded = list(plan.retire)
    if superseded:
        scheduler.stop(superseded)
        for container in superseded:
            progress(f"stopped {container.name} (not part of {spec.app} v{spec.version})")
            report.stopped.append(container.name)


def _deploy_missed(scheduler: Scheduler, spec: ReleaseSpec, crashes: dict, report: ReconcileReport,
                   progress: Progress, clock: Callable[[], float]) -> None:
    attempt = crashes.get("deploy")
    if attempt is not None and clock() < attempt.next_attempt:
        report.backing_off.append(f"{spec.app} v{spec.version}")
        return
    try:
        scheduler.converge(spec, progress)
    except DeployError as exc:
        scheduler.state.set_failed_version(spec.app, spec.version)
        scheduler.state.record_event(spec.app, f"deploy of v{spec.version} failed: {exc.reason}")
        raise
    except SchedulerError:
        crashes["deploy"] = record_crash(attempt, None, clock())
        scheduler.state.set_crashes(spec.app, crashes)
        raise
    report.deployed.append(f"{spec.app} v{spec.version}")
    scheduler.state.record_event(spec.app, f"deployed v{spec.version} (missed by the controller)")


def run_loop(scheduler: Scheduler, desired: Callable[[], Iterable[ReleaseSpec]], interval: float = 5.0,
             stop: threading.Event | None = None, progress: Progress | None = None) -> None:
    """Reconcile every ``interval`` seconds until ``stop`` is set; one failed round never ends the loop."""
    stop = stop or threading.Event()
    if scheduler.pool is not None:
        # Health on its own clock: a round blocked on a host that just vanished must not delay noticing it.
        threading.Thread(target=_probe_loop, args=(scheduler.pool, min(interval, 2.0), stop), daemon=True).start()
    # Dead containers leave the router on their engine's event, not a round later (see scheduler.deathwatch).
    deaths = DeathWatch(lambda: scheduler.hosts, scheduler.router).start() if scheduler.router is not None else None
    try:
        while not stop.is_set():
            try:
                report = reconcile_once(scheduler, desired(), progress)
                sweep(scheduler.live_hosts().values())  # one-offs past their deadline (deis run)
                if report.errors:
                    log.warning("reconcile errors: %s", "; ".join(report.errors))
            except Exception:  # noqa: BLE001 - the loop must survive a bad round (engine restarting, DB busy)
                log.exception("reconcile round failed")
            stop.wait(interval)
    finally:
        if deaths is not None:
            deaths.stop()


def _probe_loop(pool, interval: float, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            pool.probe()
        except Exception:  # noqa: BLE001 - keep probing whatever one round hit
            log.exception("probing hosts failed")
        stop.wait(interval)
