"""Concurrent requests against the real databases (SQLite shared by 4 gunicorn workers, and PostgreSQL).

The contract (DESIGN.md): no config update is ever lost, and release versions per app are strictly
increasing with no gaps or duplicates, whatever the interleaving. Races on unique names end in one
winner and clean 409s, never a 500.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.controller.helpers import new_app, new_user, pull, releases, unique

THREADS = 8
PER_THREAD = 6


def in_parallel(count: int, work):
    """Run ``work(i)`` in ``count`` threads released at the same moment; return the results in order."""
    barrier = threading.Barrier(count)

    def start(i):
        barrier.wait(timeout=30)
        return work(i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(start, range(count)))


def assert_gapless(ctl, api, app: str, expected_count: int) -> list[dict]:
    rels = releases(ctl, api, app)
    assert [r["version"] for r in rels] == list(range(1, expected_count + 1))
    created = [r["created"] for r in rels]
    assert created == sorted(created), "a later version was created before an earlier one"
    return rels


def test_concurrent_config_set_loses_nothing(any_db_controller):
    ctl = any_db_controller
    _, api = new_user(ctl, "conc")
    app = new_app(ctl, api)

    def writer(t):
        session = ctl.api(api.headers["Authorization"].split()[1])
        statuses = []
        for n in range(PER_THREAD):
            r = session.post(f"{ctl.url}/v1/apps/{app}/config", json={"values": {f"K_{t}_{n}": f"v{t}.{n}\n="}},
                             timeout=60)
            statuses.append((r.status_code, r.json().get("release")))
        return statuses

    results = in_parallel(THREADS, writer)
    assert all(status == 201 for per_thread in results for status, _ in per_thread), results
    # each response named its own release, and no two responses got the same one
    given = sorted(version for per_thread in results for _, version in per_thread)
    assert given == list(range(2, 2 + THREADS * PER_THREAD))

    values = api.get(f"{ctl.url}/v1/apps/{app}/config").json()["values"]
    assert values == {f"K_{t}_{n}": f"v{t}.{n}\n=" for t in range(THREADS) for n in range(PER_THREAD)}
    rels = assert_gapless(ctl, api, app, 1 + THREADS * PER_THREAD)
    # every release added exactly one key on top of its predecessor
    assert sorted(r["summary"] for r in rels[1:]) == sorted(f"added K_{t}_{n}" for t in range(THREADS)
                                                            for n in range(PER_THREAD))
    for prev, rel in zip(rels[1:], rels[2:]):
        before = api.get(f"{ctl.url}/v1/apps/{app}/releases/v{prev['version']}").json()["config_values"]
        after = api.get(f"{ctl.url}/v1/apps/{app}/releases/v{rel['version']}").json()["config_values"]
        assert len(after) == len(before) + 1 and before.items() <= after.items()


def test_mixed_concurrent_changes_keep_versions_gapless(any_db_controller):
    """Builds, config, limits and rollbacks from many clients at once: one release each, in order."""
    ctl = any_db_controller
    _, api = new_user(ctl, "mixed")
    app = new_app(ctl, api)
    pull(ctl, api, app, "registry.example.com/web:0", procfile={"web": "serve"})  # v2, so rollbacks have a build
    token = api.headers["Authorization"].split()[1]

    def change(i):
        session = ctl.api(token)
        base = f"{ctl.url}/v1/apps/{app}"
        kind = i % 4
        if kind == 0:
            r = session.post(f"{base}/builds", json={"image": f"registry.example.com/web:{i}", "procfile": {"web": "serve"}})
        elif kind == 1:
            r = session.post(f"{base}/config", json={"values": {f"C{i}": str(i)}})
        elif kind == 2:
            r = session.post(f"{base}/limits", json={"memory": {"web": f"{100 + i}M"}})
        else:
            r = session.post(f"{base}/releases/rollback", json={"version": "v2"})
        return r.status_code

    statuses = in_parallel(12, change)
    assert statuses == [201] * 12
    rels = assert_gapless(ctl, api, app, 14)
    assert sum(r["summary"] == "rolled back to v2" for r in rels) == 3
    # each release was derived from its immediate predecessor: nothing read a stale "latest"
    infos = [api.get(f"{ctl.url}/v1/apps/{app}/releases/v{v}").json() for v in range(2, 15)]
    for prev, rel in zip(infos, infos[1:]):
        if rel["summary"] == "rolled back to v2":
            assert (rel["image"], rel["config_values"]) == ("registry.example.com/web:0", {})
        elif rel["summary"].startswith("added "):
            key = rel["summary"].removeprefix("added ")
            assert rel["config_values"] == prev["config_values"] | {key: key[1:]}
            assert rel["image"] == prev["image"]
        elif rel["summary"].startswith("deployed "):
            assert rel["image"] == rel["summary"].removeprefix("deployed ")
            assert rel["config_values"] == prev["config_values"]
        else:
            assert rel["summary"] == "changed memory limits for web", rel
            assert (rel["image"], rel["config_values"]) == (prev["image"], prev["config_values"])


def test_name_races_have_one_winner_and_no_500(empty_db_controller):
    ctl = empty_db_controller
    usernames = [unique("racer") for _ in range(THREADS)]

    def register(i):
        return requests.post(f"{ctl.url}/v1/auth/register", timeout=60,
                             json={"username": usernames[i], "password": "s3cret-pass"}).json()

    users = in_parallel(THREADS, register)
    # on an empty platform, exactly one of the simultaneous first registrations becomes admin
    assert sorted(u["username"] for u in users) == sorted(usernames)
    assert sum(u["is_admin"] for u in users) == 1, users

    _, api = new_user(ctl, "owner")
    token = api.headers["Authorization"].split()[1]
    name = unique("same")
    statuses = in_parallel(THREADS, lambda i: ctl.api(token).post(f"{ctl.url}/v1/apps", json={"id": name}))
    assert sorted(r.status_code for r in statuses) == [201] + [409] * (THREADS - 1), [r.text for r in statuses]
    assert all(r.json()["detail"] == f"app {name!r} already exists" for r in statuses if r.status_code == 409)
    assert [r["version"] for r in releases(ctl, api, name)] == [1]

    same_user = unique("dup")
    statuses = in_parallel(THREADS, lambda i: requests.post(
        f"{ctl.url}/v1/auth/register", json={"username": same_user, "password": "s3cret-pass"}, timeout=60))
    assert sorted(r.status_code for r in statuses) == [201] + [409] * (THREADS - 1), [r.text for r in statuses]

    domain = f"{unique('d')}.example.com"
    apps = [new_app(ctl, api) for _ in range(4)]
    statuses = in_parallel(4, lambda i: ctl.api(token).post(f"{ctl.url}/v1/apps/{apps[i]}/domains",
                                                            json={"domain": domain}))
    assert sorted(r.status_code for r in statuses) == [201, 409, 409, 409], [r.text for r in statuses]
