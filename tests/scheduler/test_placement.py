import pytest

from scheduler.containers import Container
from scheduler.errors import InvalidSpec, SchedulerError
from scheduler.logs import LogLine, merge_tail, parse_line
from scheduler.placement import Slot, converge, place
from scheduler.reconcile import backoff, record_crash
from scheduler.scheduler import process_state, restart_filter, upstreams_of
from scheduler.spec import ReleaseSpec


def c(version, ptype, num, host="h1", status="running", port=None):
    return Container(id=f"{version}{ptype}{num}{host}", name=f"app_v{version}.{ptype}.{num}", host=host, app="app",
                     version=version, type=ptype, num=num, status=status,
                     exit_code=1 if status == "exited" else None,
                     address=f"127.0.0.1:{port}" if port and status == "running" else None)


def test_place_spreads_new_processes_over_hosts():
    slots = place({"web": 3, "worker": 1}, ["h1", "h2"])
    assert slots == [Slot("web", 1, "h1"), Slot("web", 2, "h2"), Slot("web", 3, "h1"), Slot("worker", 1, "h2")]


def test_place_keeps_running_processes_where_they_are():
    current = [c(2, "web", 1, "h2"), c(2, "web", 2, "h2")]
    slots = place({"web": 3}, ["h1", "h2"], current)
    assert slots == [Slot("web", 1, "h2"), Slot("web", 2, "h2"), Slot("web", 3, "h1")]


def test_place_needs_hosts():
    with pytest.raises(SchedulerError):
        place({"web": 1}, [])


def test_converge_new_release_starts_all_and_retires_old():
    actual = [c(1, "web", 1), c(1, "worker", 1), c(1, "run", 0)]
    plan = converge(2, place({"web": 2}, ["h1"]), actual)
    assert plan.start == (Slot("web", 1, "h1"), Slot("web", 2, "h1"))
    assert plan.keep == () and plan.replace == ()
    assert {x.name for x in plan.retire} == {"app_v1.web.1", "app_v1.worker.1"}  # one-off untouched


def test_converge_scale_up_and_down_within_a_release():
    actual = [c(2, "web", 1), c(2, "web", 2), c(2, "web", 3)]
    down = converge(2, place({"web": 1}, ["h1"], actual), actual)
    assert [x.num for x in down.keep] == [1] and [x.num for x in down.retire] == [2, 3] and not down.start
    up = converge(2, place({"web": 5}, ["h1"], actual), actual)
    assert [x.num for x in up.keep] == [1, 2, 3] and [s.num for s in up.start] == [4, 5] and not up.retire


def test_converge_replaces_crashed_and_missing_processes():
    actual = [c(2, "web", 1, status="exited"), c(2, "web", 3)]
    plan = converge(2, place({"web": 3}, ["h1"], actual), actual)
    assert [s.num for s in plan.start] == [1, 2]
    assert [x.num for x in plan.replace] == [1]
    assert [x.num for x in plan.keep] == [3]
    assert not plan.retire


def test_converge_retires_a_running_duplicate():
    actual = [c(2, "web", 1, "h1"), c(2, "web", 1, "h2")]
    plan = converge(2, place({"web": 1}, ["h1", "h2"], actual), actual)
    assert len(plan.keep) == 1 and len(plan.retire) == 1 and not plan.start


def test_upstreams_are_running_web_containers_of_the_release():
    spec = ReleaseSpec(app="app", version=2, image="img", procfile={"web": "x", "worker": "y"})
    containers = [c(2, "web", 1, port=1), c(2, "web", 2, status="exited", port=2), c(1, "web", 1, port=3),
                  c(2, "worker", 1, port=4)]
    assert upstreams_of(spec, containers) == ["127.0.0.1:1"]


def test_process_states():
    assert process_state(c(2, "web", 1), 2) == "up"
    assert process_state(c(3, "web", 1), 2) == "starting"
    assert process_state(c(1, "web", 1), 2) == "draining"
    assert process_state(c(2, "web", 1, status="exited"), 2) == "crashed"
    assert process_state(c(2, "web", 1, status="created"), 2) == "starting"


def test_restart_filter():
    assert restart_filter(None)(c(1, "worker", 3))
    assert restart_filter("web")(c(1, "web", 2)) and not restart_filter("web")(c(1, "worker", 2))
    assert restart_filter("web.2")(c(1, "web", 2)) and not restart_filter("web.2")(c(1, "web", 1))
    for bad in ["web.x", "Web", "web.2.3", ""]:
        with pytest.raises(InvalidSpec):
            restart_filter(bad)


def test_backoff_doubles_up_to_a_cap():
    assert [backoff(n) for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
    assert backoff(50) == 300
    first = record_crash(None, 137, now=1000.0)
    assert (first.restarts, first.last_exit_code, first.next_attempt) == (1, 137, 1002.0)
    assert record_crash(first, 1, now=1010.0).next_attempt == 1014.0


def test_log_lines_merge_by_time():
    a = [parse_line("2026-11-23T09:00:01.000000001Z hello", "web.1"),
         parse_line("2026-11-23T09:00:03.000000000Z bye\r", "web.1")]
    b = [parse_line("2026-11-23T09:00:02.000000000Z from two", "web.2")]
    merged = merge_tail([a, b], 2)
    assert merged == [LogLine("2026-11-23T09:00:02.000000000Z", "web.2", "from two"),
                      LogLine("2026-11-23T09:00:03.000000000Z", "web.1", "bye")]
    assert merged[0].format("app") == "2026-11-23T09:00:02.000000000Z app[web.2]: from two"
    assert merge_tail([a, b], None)[0].text == "hello"
    assert merge_tail([a, b], 0) == []
