import pytest

from builder.errors import CommandRefused
from builder.git import AppRepos, parse_git_command
from builder.push import ref_refusal


@pytest.mark.parametrize("command, app", [
    ("git-receive-pack 'myapp.git'", "myapp"),
    ("git-receive-pack '/myapp.git'", "myapp"),
    ("git-receive-pack 'my-app-2'", "my-app-2"),
    ("git receive-pack '/x.git'", "x"),
])
def test_receive_pack_commands(command, app):
    assert parse_git_command(command) == ("git-receive-pack", app)


def test_upload_pack_is_a_fetch():
    assert parse_git_command("git-upload-pack '/myapp.git'") == ("git-upload-pack", "myapp")
    assert parse_git_command("git upload-pack 'myapp.git'") == ("git-upload-pack", "myapp")


@pytest.mark.parametrize("command, message", [
    ("", "interactive shells are not available"),
    ("ls -la", "command not allowed: 'ls -la'"),
    ("git-upload-archive 'myapp.git'", "git archive --remote is not supported"),
    ("git-upload-pack '../x.git'", "invalid app name"),
    ("git-receive-pack 'MyApp.git'", "invalid app name 'MyApp'"),
    ("git-receive-pack '../etc/passwd.git'", "invalid app name"),
    ("git-receive-pack 'a--b.git'", "invalid app name"),
    ("git-receive-pack 'app.git' extra", "command not allowed"),
    ("git-receive-pack '" + "a" * 41 + ".git'", "at most 40 characters"),
    ("git-receive-pack 'unterminated", "command not allowed"),
])
def test_refused_commands(command, message):
    with pytest.raises(CommandRefused) as info:
        parse_git_command(command)
    assert message in str(info.value)


def test_only_master_and_main_deploy():
    sha = b"1" * 40
    assert ref_refusal(b"refs/heads/master", sha) is None
    assert ref_refusal(b"refs/heads/main", sha) is None
    assert "git push deis feature:master" in ref_refusal(b"refs/heads/feature", sha)
    assert "not refs/tags/v1" in ref_refusal(b"refs/tags/v1", sha)
    assert "deleting master is not allowed" in ref_refusal(b"refs/heads/master", b"0" * 40)


def test_repo_of_a_destroyed_app_is_replaced(tmp_path):
    repos = AppRepos(tmp_path)
    repo = repos.open("app", "uuid-1")
    (repos.path("app") / "leftover").write_text("old")
    repo.close()
    repos.open("app", "uuid-1").close()
    assert (repos.path("app") / "leftover").exists()
    repos.open("app", "uuid-2").close()
    assert not (repos.path("app") / "leftover").exists()
    assert (repos.path("app") / "deis-app-id").read_text().strip() == "uuid-2"


def test_maintain_repacks_once_packs_pile_up(tmp_path):
    import subprocess

    from tests.builder.conftest import commit, git

    repos = AppRepos(tmp_path / "repos")
    repos.open("app").close()
    target = repos.path("app")
    subprocess.run(["git", f"--git-dir={target}", "config", "gc.autoPackLimit", "2"], check=True)
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q", "-b", "master")
    previous = None
    for n in range(3):
        (work / f"file{n}").write_text(f"content {n}\n")
        sha = commit(work, f"commit {n}")
        revs = f"{sha}\n" + (f"^{previous}\n" if previous else "")
        pack = subprocess.run(["git", "-C", str(work), "pack-objects", "--stdout", "--revs"], input=revs.encode(),
                              stdout=subprocess.PIPE, check=True).stdout
        subprocess.run(["git", f"--git-dir={target}", "index-pack", "--stdin"], input=pack, check=True,
                       stdout=subprocess.DEVNULL)
        previous = sha
    subprocess.run(["git", f"--git-dir={target}", "update-ref", "refs/heads/master", previous], check=True)
    assert len(list((target / "objects" / "pack").glob("*.pack"))) == 3
    repos.maintain("app")
    assert len(list((target / "objects" / "pack").glob("*.pack"))) == 1
    subprocess.run(["git", f"--git-dir={target}", "fsck", "--no-progress"], check=True)
