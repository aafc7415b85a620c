"""berth monitor and the Events API against a real berthd and real busybox containers: order and
ids of lifecycle events, a thousand events replayed with --since, a monitor that rides through
berthd being killed with SIGKILL, and events that outlive a berthd restart."""
import json
import queue
import signal
import subprocess
import threading
import time

import grpc

from berth.v1 import containers_pb2, lifecycle_pb2
from conftest import BERTH, wait_for


class Monitor:
    """`berth monitor --format json ...` in the background; lines are read by a thread so every
    read below has a deadline."""

    def __init__(self, daemon, *args):
        self.proc = subprocess.Popen(
            [BERTH, "--socket", daemon.socket, "monitor", "--format", "json", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.lines = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def next(self, timeout=30):
        deadline = time.monotonic() + timeout
        line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
        assert line is not None, f"monitor ended: rc={self.proc.poll()} {self.proc.stderr.read()}"
        return json.loads(line)

    def take(self, n, timeout=60):
        """The next n events, all within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        events = []
        while len(events) < n:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"only {len(events)} of {n} events within {timeout}s: {events[-3:]}"
            try:
                events.append(self.next(timeout=remaining))
            except queue.Empty:
                raise AssertionError(f"only {len(events)} of {n} events within {timeout}s")
        return events

    def interrupt(self, timeout=10):
        """Ctrl-C: the monitor ends with exit code 0."""
        self.proc.send_signal(signal.SIGINT)
        rc = self.proc.wait(timeout=timeout)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def rpc(channel, method, request, timeout=60):
    call = channel.unary_unary(method, request_serializer=type(request).SerializeToString,
                               response_deserializer=containers_pb2.Container.FromString)
    return call(request, timeout=timeout)


def pause_resume_cycles(daemon, name, cycles):
    """Freezes and thaws a real running container `cycles` times over one gRPC connection."""
    with grpc.insecure_channel("unix:" + daemon.socket) as channel:
        for _ in range(cycles):
            rpc(channel, "/berth.v1.Lifecycle/FreezeContainer",
                lifecycle_pb2.FreezeContainerRequest(name=name))
            rpc(channel, "/berth.v1.Lifecycle/UnfreezeContainer",
                lifecycle_pb2.UnfreezeContainerRequest(name=name))


def assert_contiguous(events):
    ids = [e["id"] for e in events]
    assert ids == list(range(ids[0], ids[0] + len(ids))), ids


def test_monitor_sees_a_real_containers_life_in_order(berthd):
    monitor = Monitor(berthd, "--since", "0", "--type", "lifecycle", "--container", "web")
    try:
        berthd.ok("launch", "web", "--template", "busybox")
        assert berthd.lxc_state("web")[0] == "RUNNING"
        berthd.ok("stop", "web", "--force")
        berthd.ok("delete", "web")
        events = monitor.take(4)
        assert [(e["type"], e["container"], e["state"]) for e in events] == [
            ("created", "web", "STOPPED"), ("started", "web", "RUNNING"),
            ("stopped", "web", "STOPPED"), ("deleted", "web", "")]
        ids = [e["id"] for e in events]
        assert ids == sorted(ids) and len(set(ids)) == 4
        assert all(e["time"].endswith("Z") for e in events)
        assert monitor.interrupt() == 0
    finally:
        monitor.kill()

    # The operation steps of the same create/stop/delete are in the log, between those ids.
    ops = Monitor(berthd, "--since", "0", "--type", "operation")
    try:
        steps = [e["detail"] for e in ops.take(6)]
        assert steps == ['create: creating root filesystem from template "busybox"',
                         "create: done", "stop: killing", "stop: done",
                         "delete: removing root filesystem", "delete: done"]
    finally:
        ops.kill()


def test_a_thousand_events_while_away_are_all_replayed_with_since(berthd):
    berthd.ok("launch", "web", "--template", "busybox")
    monitor = Monitor(berthd, "--since", "0", "--type", "lifecycle", "--container", "web")
    try:
        started = monitor.take(2)[-1]
        assert started["type"] == "started"
        assert monitor.interrupt() == 0
    finally:
        monitor.kill()

    pause_resume_cycles(berthd, "web", 500)  # 1,000 events while nobody listens.
    assert berthd.lxc_state("web")[0] == "RUNNING"

    resumed = Monitor(berthd, "--since", str(started["id"]), "--container", "web")
    try:
        events = resumed.take(1000, timeout=120)
        assert [e["type"] for e in events] == ["frozen", "unfrozen"] * 500
        assert_contiguous(events)
        assert events[0]["id"] == started["id"] + 1
        assert events[0]["state"] == "FROZEN" and events[1]["state"] == "RUNNING"
    finally:
        resumed.kill()


def test_monitor_resumes_without_a_gap_when_berthd_is_killed(berthd):
    berthd.ok("launch", "web", "--template", "busybox")
    monitor = Monitor(berthd, "--since", "0")  # Every event: ids must be contiguous.
    try:
        before = monitor.take(6)  # daemon-started, daemon-reconciled, 2 create steps...
        pause_resume_cycles(berthd, "web", 5)
        berthd.stop(signal.SIGKILL)
        # Containers outlive berthd; the monitor keeps trying meanwhile.
        assert berthd.lxc_state("web")[0] == "RUNNING"
        assert monitor.proc.poll() is None
        berthd.start()
        pause_resume_cycles(berthd, "web", 5)
        # 5 cycles + started/reconciled of the new berthd + 5 cycles.
        after = monitor.take(10 + 2 + 10 - 0, timeout=60)
        events = before + after
        assert_contiguous(events)
        types = [e["type"] for e in events]
        assert types.count("daemon-started") == 2
        assert types[-12:-10] == ["daemon-started", "daemon-reconciled"]
        assert types[-10:] == ["frozen", "unfrozen"] * 5
        assert monitor.interrupt() == 0
    finally:
        monitor.kill()


def test_events_survive_a_berthd_restart_and_ids_continue(berthd):
    berthd.ok("create", "web", "--template", "busybox")
    first = Monitor(berthd, "--since", "0")
    try:
        old = first.take(5)  # daemon-started, daemon-reconciled, create step, created, done.
    finally:
        first.kill()
    assert berthd.stop(signal.SIGTERM) == 0
    berthd.start()
    replay = Monitor(berthd, "--since", "0")
    try:
        events = replay.take(7)
        assert events[:5] == old
        assert [e["type"] for e in events[5:]] == ["daemon-started", "daemon-reconciled"]
        assert_contiguous(events)
        assert "0 running" in events[6]["detail"] and events[6]["detail"].startswith("1 containers")
    finally:
        replay.kill()


def test_bad_monitor_arguments_are_usage_errors(berthd):
    r = berthd.cli("monitor", "--type", "bogus", timeout=10)
    assert r.rc == 2
    assert 'unknown event type "bogus"' in r.err
    r = berthd.cli("monitor", "--since", "-1", timeout=10)
    assert r.rc == 2 and "--since needs an event id" in r.err
