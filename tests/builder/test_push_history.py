"""End to end: pushes on top of earlier pushes (force pushes, failed rebuilds, old images)."""
from __future__ import annotations

import pytest

from builder.images import history_key
from tests.builder.conftest import KEEP_IMAGES, commit, git

pytestmark = pytest.mark.slow


def procfile_app(platform, command: str = "sleep infinity"):
    work = platform.checkout(None)
    (work / "Procfile").write_text(f"worker: {command}\n")
    commit(work, "procfile only")
    return work


def test_failed_rebuild_leaves_ref_and_releases_untouched(platform, owner):
    _, token, key = owner
    app = platform.create_app(token)
    work = procfile_app(platform)
    good = git(work, "rev-parse", "HEAD")
    assert platform.push(work, key, app).returncode == 0
    (work / "Procfile").write_text("worker: sleep 1\nthis line is broken\n")
    commit(work, "break the Procfile")
    result = platform.push(work, key, app)
    assert result.returncode != 0, result.output
    assert "Procfile line 2: expected 'type: command'" in result.remote
    assert "[remote rejected] master -> master (build failed)" in result.output
    assert platform.repo_ref(app) == good
    assert platform.releases_versions(token, app) == [1, 2]
    assert platform.registry_client().tags(app) == [good]


def test_force_push_is_accepted(platform, owner):
    _, token, key = owner
    app = platform.create_app(token)
    work = procfile_app(platform)
    assert platform.push(work, key, app).returncode == 0
    (work / "Procfile").write_text("worker: sleep 2\n")
    git(work, "add", "-A")
    git(work, "-c", "user.name=Test", "-c", "user.email=test@example.com", "commit", "-q", "--amend",
        "-m", "rewritten history")
    rewritten = git(work, "rev-parse", "HEAD")
    result = platform.push(work, key, app)
    assert result.returncode != 0
    assert "non-fast-forward" in result.output or "fetch first" in result.output, result.output
    assert platform.releases_versions(token, app) == [1, 2]
    result = platform.push(work, key, app, "master", "--force")
    assert result.returncode == 0, result.output
    assert "(forced update)" in result.output
    assert f"{app} v3 deployed" in result.remote
    assert platform.repo_ref(app) == rewritten


def test_old_images_are_garbage_collected(platform, owner, docker_client, redis_url):
    import docker.errors
    from redis import Redis

    _, token, key = owner
    app = platform.create_app(token)
    work = procfile_app(platform)
    shas = []
    for n in range(KEEP_IMAGES + 2):
        if n:
            (work / "Procfile").write_text(f"worker: sleep {n}\n")
            commit(work, f"build {n}")
        result = platform.push(work, key, app)
        assert result.returncode == 0, result.output
        shas.append(git(work, "rev-parse", "HEAD"))
    kept, collected = shas[-KEEP_IMAGES:], shas[:-KEEP_IMAGES]
    repository = f"{platform.registry}/{app}"
    assert platform.registry_client().tags(app) == sorted(kept)
    for sha in collected:
        with pytest.raises(docker.errors.ImageNotFound):
            docker_client.images.get(f"{repository}:{sha}")
    for sha in kept:
        docker_client.images.get(f"{repository}:{sha}")
    history = Redis.from_url(redis_url).lrange(history_key(app), 0, -1)
    assert [tag.decode() for tag in history] == kept[::-1]
    assert platform.releases_versions(token, app) == list(range(1, len(shas) + 2))
