"""App networks: names, bridge names and subnets (pure)."""
import ipaddress
import itertools

import pytest

from scheduler.errors import SchedulerError
from scheduler.networks import BRIDGE_PREFIX, AddressPool, bridge_name, network_name


def test_every_subnet_of_the_pool_once_starting_where_the_app_says():
    pool = AddressPool("10.224.0.0/20", 24)
    subnets = list(pool.candidates("deis-1.shop"))
    assert len(subnets) == len(set(subnets)) == 16
    assert all(s.subnet_of(ipaddress.ip_network("10.224.0.0/20")) and s.prefixlen == 24 for s in subnets)
    firsts = {next(pool.candidates(f"deis-1.app{i}")) for i in range(40)}
    assert len(firsts) > 8  # concurrent creators of different apps mostly start apart


def test_default_pool_keeps_clear_of_the_cluster_and_the_hosts_bridge():
    pool = AddressPool()
    assert not pool.overlaps("10.213.0.0/24") and not pool.overlaps("10.214.0.1/24")
    assert pool.overlaps("10.230.1.0/24")
    assert len(list(itertools.islice(pool.candidates("x"), 5000))) == 4096


def test_names_are_per_platform_and_fit_linux_interface_names():
    assert network_name("deis-abc", "shop") == "deis-abc.shop"
    names = {bridge_name(p, a) for p in ("deis-1", "deis-2") for a in ("shop", "blog")}
    assert len(names) == 4 and all(n.startswith(BRIDGE_PREFIX) and len(n) == 15 for n in names)


@pytest.mark.parametrize("network, prefix", [("10.0.0.0/33", 24), ("10.224.0.0/24", 16), ("fd00::/64", 80),
                                             ("10.0.0.0/8", 30)])
def test_bad_pools_are_refused(network, prefix):
    with pytest.raises(SchedulerError):
        AddressPool(network, prefix)
