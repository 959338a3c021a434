"""The reconcile loop's entry point is the controller's (``python -m controller.reconcile``); the
scheduler's loop is a library that knows nothing of the controller; the desired release of each app
is its serving one: the newest whose deploy succeeded."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from controller import db, desired
from controller.models import App, Build, Config, Release, User
from controller.reconcile import one_round
from deiscore import settings as platform_settings
from deisctl.components import COMPONENTS

REPO_ROOT = Path(__file__).resolve().parents[2]


def _python(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO_ROOT, env={**os.environ, **(env or {})},
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)


def test_the_scheduler_loop_imports_nothing_of_the_controller():
    proc = _python("-c", "import sys, scheduler.reconcile; print(sorted(m for m in sys.modules "
                         "if m.split('.')[0] in ('controller', 'deisctl')))")
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stdout


def test_entry_point_runs_for_the_local_scheduler_only(tmp_path):
    proc = _python("-m", "controller.reconcile", "--help")
    assert proc.returncode == 0 and "--interval" in proc.stdout, proc.stdout
    proc = _python("-m", "controller.reconcile", env={"DEIS_HOME": str(tmp_path), "DEIS_SCHEDULER": "swarm"})
    assert proc.returncode == 2 and "local scheduler only" in proc.stdout, proc.stdout


def test_deisctl_starts_the_controllers_entry_point():
    reconciler = next(c for c in COMPONENTS if c.name == "reconciler")
    settings = platform_settings.load({"DEIS_HOME": "/nonexistent"})
    assert reconciler.argv(settings)[1:3] == ["-m", "controller.reconcile"]


def test_desired_release_is_the_newest_that_succeeded(tmp_path):
    url = f"sqlite:///{tmp_path / 'controller.db'}"
    db.upgrade(url)
    sessions = db.make_sessionmaker(db.make_engine(url))
    statuses = {"served": ["succeeded", "succeeded", "failed", "deploying", "queued"],
                "never": ["succeeded", "failed"],  # v1 has no build: nothing to run yet
                "first": ["succeeded", "queued"],
                "rolled": ["succeeded", "succeeded", "succeeded", "superseded"]}
    with sessions() as session:
        user = User(username="ada", password_hash="x")
        session.add(user)
        session.flush()
        for name, versions in statuses.items():
            app = App(name=name, owner_id=user.id, structure={"web": 1})
            session.add(app)
            session.flush()
            config = Config(app_id=app.id, owner_id=user.id, values={})
            session.add(config)
            session.flush()
            for version, status in enumerate(versions, start=1):
                build = None
                if version > 1 or name == "served":
                    build = Build(app_id=app.id, image=f"registry.example.com/{name}:v{version}", kind="image",
                                  procfile={"web": "serve"})
                    session.add(build)
                    session.flush()
                session.add(Release(app_id=app.id, version=version, build_id=build.id if build else None,
                                    config_id=config.id, status=status))
        session.commit()
    found = {spec.app: (spec.version, spec.image) for spec in one_round(sessions)}
    assert found == {"served": (2, "registry.example.com/served:v2"),
                     "rolled": (3, "registry.example.com/rolled:v3")}
    with sessions() as session:
        assert [s.app for s in desired.specs(session)] == ["rolled", "served"]
