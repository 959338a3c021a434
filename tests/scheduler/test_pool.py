"""HostPool: registered hosts become Host objects; health verdicts shared through a state file."""
from scheduler.pool import HostPool, HostRecord


class Engine:
    """In-memory twin of a docker client's ping (the real engines are exercised in the cluster tests)."""

    def __init__(self, answers):
        self.answers = answers

    def ping(self):
        if not self.answers:
            raise ConnectionError("no route to host")
        return True

    def close(self):
        pass


def make_pool(tmp_path, records, alive):
    return HostPool(lambda: records, lambda record, timeout=60: Engine(alive[record.name]), "deis-test",
                    tmp_path, down_after=3.0)


def test_hosts_follow_the_registered_records(tmp_path):
    records = [HostRecord("h1", "10.0.0.11", "ssh://root@10.0.0.11"), HostRecord("h2", "10.0.0.12", "ssh://x@y")]
    pool = make_pool(tmp_path, records, {"h1": True, "h2": True})
    first = pool.hosts()
    assert sorted(first) == ["h1", "h2"] and first["h1"].address == "10.0.0.11"
    assert pool.hosts()["h1"] is first["h1"]  # clients are reused between calls
    records.pop()
    assert sorted(pool.hosts()) == ["h1"]


def test_a_host_is_down_after_not_answering_for_a_while_and_comes_back(tmp_path):
    records = [HostRecord("h1", "a", "ssh://root@a", memory=8 << 30, tags={"zone": "a"}), HostRecord("h2", "b", "ssh://root@b")]
    alive = {"h1": True, "h2": True}
    pool = make_pool(tmp_path, records, alive)
    assert pool.probe(now=100) == (set(), set())
    alive["h2"] = False
    assert pool.probe(now=101) == (set(), set())  # one missed answer is not enough
    assert pool.probe(now=103.5) == ({"h2"}, set())
    # Another process (a controller worker) sees the same verdict through the state file.
    other = make_pool(tmp_path, records, alive)
    assert other.down() == {"h2"}
    infos = {i.name: i for i in other.infos({"h1": (3, 1 << 30)})}
    assert infos["h2"].healthy is False and infos["h1"].healthy is True
    assert (infos["h1"].containers, infos["h1"].reserved, infos["h1"].memory, infos["h1"].tags) == \
        (3, 1 << 30, 8 << 30, {"zone": "a"})
    alive["h2"] = True
    assert pool.probe(now=110) == (set(), {"h2"})
    assert other.down() == set()
