"""Run the real ``deis`` command as a subprocess against a live gunicorn controller.

Each CLI gets its own HOME and DEIS_PROFILE_DIR under the test's temp dir, so the machine's
``~/.deis/client.json`` is never read or written.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

DEIS = shutil.which("deis", path=str(Path(sys.executable).parent)) or shutil.which("deis")


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class DeisCLI:
    """One user's ``deis`` command: its own HOME, profile dir and working directory."""

    def __init__(self, root: Path, url: str):
        self.root = root
        self.url = url
        self.home = root / "home"
        self.profile_dir = self.home / ".deis"
        self.cwd = root / "work"
        self.home.mkdir(parents=True)
        self.cwd.mkdir()
        self.username: str | None = None
        self.password: str | None = None

    @property
    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DEIS_", "GIT_"))}
        return env | {"HOME": str(self.home), "DEIS_PROFILE_DIR": str(self.profile_dir),
                      "GIT_CONFIG_NOSYSTEM": "1"}

    def run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        assert DEIS, "the deis console script is not installed in this venv"
        # stdin is never a terminal here, so the CLI must fail rather than prompt for a missing option
        return subprocess.run([DEIS, *args], cwd=cwd or self.cwd, env=self.env, input="",
                              capture_output=True, text=True, timeout=60)

    def ok(self, *args: str, **kwargs) -> str:
        """Run and expect exit 0; return stdout."""
        result = self.run(*args, **kwargs)
        assert result.returncode == 0, (args, result.returncode, result.stdout, result.stderr)
        return result.stdout

    def fails(self, *args: str, expect: str | tuple[str, ...] = (), **kwargs) -> str:
        """Run and expect a non-zero exit with an ``Error: ...`` message; return stderr."""
        result = self.run(*args, **kwargs)
        assert result.returncode != 0, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr, result.stderr
        for fragment in (expect,) if isinstance(expect, str) else expect:
            assert fragment in result.stderr, (fragment, result.stderr)
        return result.stderr

    def json(self, *args: str, **kwargs):
        return json.loads(self.ok(*args, "--json", **kwargs))

    def profile(self) -> dict:
        return json.loads((self.profile_dir / "client.json").read_text())

    def register(self, username: str | None = None, password: str = "s3cret-pass") -> str:
        self.username = username or unique("u")
        self.password = password
        self.ok("register", self.url, "--username", self.username, "--password", password,
                "--email", f"{self.username}@example.com")
        return self.username

    def create_app(self, name: str | None = None) -> str:
        name = name or unique("app")
        self.ok("apps:create", name, "--no-remote")
        return name

    def git_repo(self, name: str = "repo") -> Path:
        repo = self.cwd / name
        repo.mkdir()
        subprocess.run(["git", "init", "-q", str(repo)], check=True, env=self.env)
        return repo

    def git_remote(self, repo: Path) -> str | None:
        result = subprocess.run(["git", "remote", "get-url", "deis"], cwd=repo, env=self.env,
                                capture_output=True, text=True)
        return result.stdout.strip() if result.returncode == 0 else None


@pytest.fixture
def new_cli(tmp_path):
    """A factory of CLIs (one per simulated user), each logged out and with its own HOME."""
    count = 0

    def make(ctl) -> DeisCLI:
        nonlocal count
        count += 1
        return DeisCLI(tmp_path / f"cli{count}", ctl.url)

    return make


@pytest.fixture
def user(shared_controller, new_cli) -> DeisCLI:
    """A freshly registered, logged-in user on the module's controller."""
    cli = new_cli(shared_controller)
    cli.register()
    return cli
