"""The build worker runs the platform's own job functions only: real Redis, a real worker process."""
from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue, Worker
from rq.job import Job

from builder.jobs import QUEUE, SERIALIZER, build_queue
from deiscore.processes import spawn, stop_pid, wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def worker(redis_url, tmp_path_factory):
    """``python -m builder.worker`` on the test Redis; yields its pid."""
    home = tmp_path_factory.mktemp("worker-home")
    env = {**os.environ, "DEIS_HOME": str(home), "DEIS_REDIS_URL": redis_url, "PYTHONPATH": str(REPO_ROOT)}
    proc = spawn([sys.executable, "-m", "builder.worker"], home / "worker.log", env=env, cwd=REPO_ROOT)
    connection = Redis.from_url(redis_url)
    try:
        wait_for(lambda: any(w.pid == proc.pid for w in Worker.all(connection=connection)), 30, "build worker",
                 process=proc)
        yield proc.pid
    finally:
        stop_pid(proc.pid)


def finished(job: Job, timeout: float = 30) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if job.get_status(refresh=True) in ("finished", "failed", "stopped", "canceled"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job.id} still {job.get_status()} after {timeout}s")


def failure(job: Job) -> str:
    return job.latest_result().exc_string


def test_a_pickled_job_naming_another_function_is_refused_unread(redis_url, worker, tmp_path):
    """The attack from the probe: rq's default (pickle) serializer, ``os.system``."""
    marker = tmp_path / f"ran-{uuid.uuid4().hex}"
    job = Queue(QUEUE, connection=Redis.from_url(redis_url)).enqueue("os.system", f"touch {marker}")
    finished(job)
    assert job.get_status() == "failed"
    assert "its data is not a JSON job of the platform" in failure(job)
    assert not marker.exists()


def test_a_json_job_naming_another_function_is_refused_without_import(redis_url, worker, tmp_path):
    marker = tmp_path / f"ran-{uuid.uuid4().hex}"
    queue = build_queue(Redis.from_url(redis_url))
    for func in ("os.system", "subprocess.getoutput", "not_imported_module_zz.run"):
        job = finished(queue.enqueue(func, f"touch {marker}"))
        assert job.get_status() == "failed", func
        assert f"'{func}' is not a job function of the platform" in failure(job)
        assert "ModuleNotFoundError" not in failure(job)  # refused by name, never imported
    assert not marker.exists()
    assert "not_imported_module_zz" not in sys.modules


def test_a_job_carrying_an_instance_is_refused(redis_url, worker):
    connection = Redis.from_url(redis_url)
    job = Job.create("str.upper", connection=connection, serializer=SERIALIZER, origin=QUEUE)
    job.data = SERIALIZER.dumps(["upper", "text", [], {}])  # "text".upper(), as a hand-made job says it
    job = finished(build_queue(connection).enqueue_job(job))
    assert job.get_status() == "failed"
    assert "not a method of an object" in failure(job)


def test_the_platform_build_function_still_runs(redis_url, worker):
    """Refusals do not stop the worker, and its own function is run (this request fails inside it)."""
    job = build_queue(Redis.from_url(redis_url)).enqueue(
        "builder.jobs.run_build", {"build_id": uuid.uuid4().hex, "app": "nope", "sha": "0" * 40,
                                    "repo": "/nonexistent/nope.git"})
    finished(job)
    assert job.get_status() == "failed"
    assert "refused" not in failure(job) and "NotGitRepository" in failure(job)
