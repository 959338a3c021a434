"""Cluster placement: a pure function, tested on small and large simulated clusters."""
import collections
import random

import pytest

from scheduler.errors import Unschedulable
from scheduler.spread import Demand, HostInfo, spread

G = 1024 ** 3
M = 1024 ** 2


def hosts(n, memory=8 * G, **kwargs):
    return [HostInfo(f"h{i}", memory, **kwargs) for i in range(1, n + 1)]


def by_host(placement):
    return collections.Counter(placement.values())


def test_replicas_of_a_type_go_to_distinct_hosts():
    placed = spread([Demand("a", "web", 3)], hosts(3))
    assert sorted(placed.values()) == ["h1", "h2", "h3"]
    placed = spread([Demand("a", "web", 5)], hosts(3))
    assert sorted(by_host(placed).values()) == [1, 2, 2]


def test_running_processes_stay_where_they_are():
    current = {("a", "web", 1): "h3", ("a", "web", 2): "h2"}
    placed = spread([Demand("a", "web", 3)], hosts(3), current)
    assert placed == {("a", "web", 1): "h3", ("a", "web", 2): "h2", ("a", "web", 3): "h1"}


def test_stacked_replicas_are_spread_when_a_host_has_room():
    current = {("a", "web", 1): "h1", ("a", "web", 2): "h1"}  # e.g. h2 was just added
    placed = spread([Demand("a", "web", 2)], hosts(2), current)
    assert placed[("a", "web", 1)] == "h1" and placed[("a", "web", 2)] == "h2"


def test_new_processes_go_to_the_least_loaded_hosts():
    cluster = [HostInfo("h1", 8 * G, containers=5), HostInfo("h2", 8 * G, containers=1),
               HostInfo("h3", 8 * G, containers=3)]
    placed = spread([Demand("a", "web", 1), Demand("a", "worker", 1)], cluster)
    assert placed == {("a", "web", 1): "h2", ("a", "worker", 1): "h2"}
    placed = spread([Demand("a", "web", 3)], cluster)
    assert sorted(placed.values()) == ["h1", "h2", "h3"]  # spread wins over load


def test_memory_limits_are_respected_and_a_full_host_does_not_block_the_others():
    cluster = [HostInfo("h1", 1 * G, reserved=1 * G), HostInfo("h2", 2 * G)]
    placed = spread([Demand("a", "web", 2, memory=512 * M)], cluster)
    assert set(placed.values()) == {"h2"}  # h1 has no room, so h2 takes both


def test_what_does_not_fit_is_refused_with_a_reason():
    with pytest.raises(Unschedulable, match=r"cannot place a web: 1 of 3 processes do not fit: each needs "
                                            r"1G of memory; the most any eligible host has free is 512M"):
        spread([Demand("a", "web", 3, memory=1 * G)], [HostInfo("h1", int(1.5 * G)), HostInfo("h2", int(1.5 * G))])
    with pytest.raises(Unschedulable, match="no healthy hosts"):
        spread([Demand("a", "web", 1)], hosts(2, healthy=False))


def test_tags_constrain_hosts():
    cluster = [HostInfo("h1", 8 * G, {"environ": "prod"}), HostInfo("h2", 8 * G, {"environ": "dev"}),
               HostInfo("h3", 8 * G, {"environ": "prod", "ssd": "true"})]
    placed = spread([Demand("a", "web", 4, tags={"environ": "prod"}), Demand("b", "web", 2)], cluster)
    assert {placed[("a", "web", n)] for n in range(1, 5)} == {"h1", "h3"}
    assert placed[("b", "web", 1)] != placed[("b", "web", 2)]
    placed = spread([Demand("a", "web", 1, tags={"environ": "prod", "ssd": "true"})], cluster)
    assert placed == {("a", "web", 1): "h3"}
    with pytest.raises(Unschedulable, match="no healthy host has the tags environ=staging"):
        spread([Demand("a", "web", 1, tags={"environ": "staging"})], cluster)


def test_unhealthy_hosts_get_nothing_and_their_processes_move():
    cluster = [HostInfo("h1", 8 * G, healthy=False), *hosts(3)[1:]]
    current = {("a", "web", 1): "h1", ("a", "web", 2): "h2"}
    placed = spread([Demand("a", "web", 2)], cluster, current)
    assert placed == {("a", "web", 1): "h3", ("a", "web", 2): "h2"}


def test_scale_to_zero_places_nothing():
    assert spread([Demand("a", "web", 0)], hosts(2)) == {}


def test_large_cluster_is_balanced_spread_and_deterministic():
    rng = random.Random(7)
    cluster = [HostInfo(f"h{i:04d}", 16 * G) for i in range(1000)]
    demands = [Demand(f"app{a:04d}", ptype, count, memory=rng.choice([0, 256 * M, 512 * M]))
               for a in range(1000) for ptype, count in (("web", 8), ("worker", 2))]
    placed = spread(demands, cluster)
    assert len(placed) == 10_000
    assert set(by_host(placed).values()) == {10}  # 10,000 processes over 1,000 hosts: exactly 10 each
    per_type = collections.Counter((app, ptype, host) for (app, ptype, _), host in placed.items())
    assert max(per_type.values()) == 1  # no two replicas of a type share a host
    memory = {d.app + d.type: d.memory for d in demands}
    used = collections.Counter()
    for (app, ptype, _), host in placed.items():
        used[host] += memory[app + ptype]
    assert max(used.values()) <= 16 * G
    assert spread(list(reversed(demands)), cluster) == placed


def test_losing_a_host_moves_only_its_processes():
    cluster = hosts(50)
    demands = [Demand(f"app{a}", "web", 4) for a in range(100)]
    placed = spread(demands, cluster)
    lost = [HostInfo(h.name, h.memory, healthy=h.name != "h7") for h in cluster]
    after = spread(demands, lost, placed)
    moved = {key for key in placed if after[key] != placed[key]}
    assert moved == {key for key, host in placed.items() if host == "h7"} and moved
    assert "h7" not in after.values()
