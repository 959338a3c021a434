"""Which submodules a pushed commit has (builder.git.submodules), on real git repositories."""
import subprocess
from pathlib import Path

import pytest

from builder.errors import BuildFailed
from builder.git import submodules


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e", "-c", "protocol.file.allow=always",
                           *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def repo(path: Path, files: dict[str, str]) -> Path:
    path.mkdir(parents=True)
    for name, text in files.items():
        (path / name).write_text(text)
    git(path, "init", "-q", "-b", "master")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


def pushed(work: Path, bare: Path) -> str:
    """The commit of ``work`` as the builder sees it: in a bare repository (no working tree, no .git/modules)."""
    git(work, "clone", "-q", "--bare", str(work), str(bare))
    return git(work, "rev-parse", "HEAD")


def with_submodule(tmp_path: Path, url: str) -> tuple[Path, str, str]:
    library = repo(tmp_path / "library", {"lib.txt": "x\n"})
    work = repo(tmp_path / "work", {"app.txt": "y\n"})
    git(work, "submodule", "add", "-q", str(library), "vendor/lib")
    git(work, "config", "-f", ".gitmodules", "submodule.vendor/lib.url", url)
    git(work, "commit", "-q", "-am", "submodule")
    sha = pushed(work, tmp_path / "app.git")
    return tmp_path / "app.git", sha, git(library, "rev-parse", "HEAD")


def test_no_submodules(tmp_path):
    work = repo(tmp_path / "work", {"a": "1"})
    assert submodules(work / ".git", git(work, "rev-parse", "HEAD")) == []


def test_a_submodule_is_its_path_commit_and_url(tmp_path):
    bare, sha, library_commit = with_submodule(tmp_path, "https://example.org/lib.git")
    assert submodules(bare, sha) == [("vendor/lib", library_commit, "https://example.org/lib.git")]


@pytest.mark.parametrize("url, message", [
    ("../other-app.git", "has a relative URL '../other-app.git'"),
    ("file:///srv/deis/repos/other.git", "is a file:// URL"),
    ("/srv/deis/repos/other.git", "is a local path"),
    ("git@example.org:lib.git", "is an ssh URL"),
    ("ext::sh%-c%touch%/tmp/pwned", "names a git remote helper"),
])
def test_a_submodule_url_that_would_read_this_machine_is_refused(tmp_path, url, message):
    bare, sha, _ = with_submodule(tmp_path, url)
    with pytest.raises(BuildFailed) as refused:
        submodules(bare, sha)
    assert message in str(refused.value) and "vendor/lib" in str(refused.value)
