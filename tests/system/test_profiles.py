"""Profiles and devices against real busybox containers: limits from profiles merged in order reach
the container's cgroup (its own key wins, a profile change reaches running users live), disk
devices are bind mounts with their content (read-only when asked: a write inside fails), nic
devices are refused at start, bad input changes nothing (SQLite rows and revisions stay), and a
second writer with a stale revision gets ABORTED. Also `berth info` numbers of a running
container."""
import os
import sqlite3
import tempfile

import grpc
import pytest

from berth.v1 import containers_pb2, profiles_pb2
from conftest import wait_for
from test_config import memory_limit, pids_max, revision

MiB = 1024 * 1024


def rows(berthd, sql, *args):
    con = sqlite3.connect(f"file:{berthd.db}?mode=ro", uri=True)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def profile_revision(berthd, name):
    return rows(berthd, "SELECT revision FROM profiles WHERE name = ?", name)[0][0]


def rpc(berthd, method, request, response_type):
    with grpc.insecure_channel("unix:" + berthd.socket) as ch:
        call = ch.unary_unary(f"/berth.v1.Profiles/{method}",
                              request_serializer=type(request).SerializeToString,
                              response_deserializer=response_type.FromString)
        return call(request, timeout=60)


@pytest.fixture
def host_dir():
    d = tempfile.mkdtemp(prefix="bt-dev-", dir="/tmp")
    with open(os.path.join(d, "hello"), "w") as f:
        f.write("from the host\n")
    yield d
    for name in os.listdir(d):
        os.unlink(os.path.join(d, name))
    os.rmdir(d)


def test_profiles_merge_in_order_and_own_keys_win(berthd):
    berthd.ok("profile", "create", "big", "limits.memory=512MiB", "limits.processes=300")
    berthd.ok("profile", "create", "small", "--description", "a small box",
              "limits.memory=256MiB")
    # small comes after big: its memory wins, big's processes stay.
    berthd.ok("launch", "web", "--template", "busybox", "-p", "big", "-p", "small")
    assert memory_limit(berthd, "web") == 256 * MiB
    assert pids_max(berthd, "web") == "300"
    assert rows(berthd, "SELECT profile_name FROM container_profiles WHERE container_name = ? "
                "ORDER BY position", "web") == [("big",), ("small",)]
    shown = berthd.ok("config", "show", "web", "--expanded").out
    assert 'limits.memory: "256MiB"  # from profile small' in shown, shown
    assert 'limits.processes: "300"  # from profile big' in shown, shown

    # The container's own key wins over every profile, live.
    berthd.ok("config", "set", "web", "limits.memory=128MiB")
    assert memory_limit(berthd, "web") == 128 * MiB
    # A profile change reaches a running user live where its own key does not cover it.
    berthd.ok("profile", "set", "big", "limits.processes=250")
    assert pids_max(berthd, "web") == "250"
    assert memory_limit(berthd, "web") == 128 * MiB
    # Without its own key, small's value applies again.
    berthd.ok("config", "unset", "web", "limits.memory")
    assert memory_limit(berthd, "web") == 256 * MiB
    # Reordering the profiles: big after small now wins for memory.
    berthd.ok("profile", "assign", "web", "small,big")
    assert memory_limit(berthd, "web") == 512 * MiB

    # A new container gets only the default profile.
    berthd.ok("create", "db", "--template", "busybox")
    assert rows(berthd, "SELECT profile_name FROM container_profiles WHERE container_name = ?",
                "db") == [("default",)]
    listed = berthd.ok("profile", "list").out
    assert any(line.split()[:4] == ["big", "2", "0", "1"] for line in listed.splitlines()), listed
    assert "web" in berthd.ok("profile", "show", "big").out.splitlines()[-1]

    # profile edit from stdin (no terminal): YAML in, a diff applied with compare-and-swap.
    berthd.ok("profile", "edit", "small", input="description: tiny\nconfig:\n"
              "  limits.memory: 200MiB\n")
    assert berthd.ok("profile", "get", "small", "limits.memory").out == "200MiB\n"
    assert "tiny" in berthd.ok("profile", "show", "small").out


def test_profile_and_assignment_errors_change_nothing(berthd):
    berthd.ok("profile", "create", "small", "limits.memory=256MiB")
    r = berthd.cli("launch", "web", "--template", "busybox", "-p", "nope")
    assert r.rc == 3 and '"nope"' in r.err, r
    assert "web" not in berthd.db_rows() and "web" not in berthd.lxc_names()

    berthd.ok("launch", "web", "--template", "busybox", "-p", "small")
    before = revision(berthd, "web")
    r = berthd.cli("profile", "assign", "web", "small,nope")
    assert r.rc == 3 and '"nope"' in r.err, r
    assert revision(berthd, "web") == before

    r = berthd.cli("profile", "delete", "small")
    assert r.rc == 5 and '"web"' in r.err, r
    assert rows(berthd, "SELECT name FROM profiles WHERE name = 'small'") == [("small",)]
    r = berthd.cli("profile", "delete", "default")
    assert r.rc == 5 and "default" in r.err, r
    r = berthd.cli("profile", "create", "small")
    assert r.rc == 4, r

    # A bad value in a profile changes nothing, in the row or in the running user's cgroup.
    p_before = profile_revision(berthd, "small")
    for args in (["limits.memory=lots"], ["no.such.key=1"]):
        r = berthd.cli("profile", "set", "small", *args)
        assert r.rc == 6, (args, r)
        assert profile_revision(berthd, "small") == p_before
        assert memory_limit(berthd, "web") == 256 * MiB

    # Unused profiles go; a used one goes once nobody uses it.
    berthd.ok("profile", "assign", "web", "default")
    berthd.ok("profile", "delete", "small")
    assert rows(berthd, "SELECT name FROM profiles WHERE name = 'small'") == []


def test_second_writer_with_a_stale_revision_gets_aborted(berthd):
    berthd.ok("profile", "create", "small", "limits.memory=256MiB")
    berthd.ok("create", "web", "--template", "busybox")
    seen = profile_revision(berthd, "small")
    # The first writer wins...
    rpc(berthd, "UpdateProfile", profiles_pb2.UpdateProfileRequest(
        name="small", expected_revision=seen, set={"limits.memory": "300MiB"}),
        profiles_pb2.UpdateProfileResponse)
    # ... the second, who read the same revision, is refused and changes nothing.
    with pytest.raises(grpc.RpcError) as e:
        rpc(berthd, "UpdateProfile", profiles_pb2.UpdateProfileRequest(
            name="small", expected_revision=seen, set={"limits.memory": "400MiB"}),
            profiles_pb2.UpdateProfileResponse)
    assert e.value.code() == grpc.StatusCode.ABORTED
    assert berthd.ok("profile", "get", "small", "limits.memory").out == "300MiB\n"

    seen = revision(berthd, "web")
    rpc(berthd, "SetContainerProfiles", profiles_pb2.SetContainerProfilesRequest(
        name="web", expected_revision=seen, profiles=["default", "small"]),
        containers_pb2.UpdateContainerConfigResponse)
    with pytest.raises(grpc.RpcError) as e:
        rpc(berthd, "SetContainerProfiles", profiles_pb2.SetContainerProfilesRequest(
            name="web", expected_revision=seen, profiles=["small"]),
            containers_pb2.UpdateContainerConfigResponse)
    assert e.value.code() == grpc.StatusCode.ABORTED
    assert rows(berthd, "SELECT profile_name FROM container_profiles WHERE container_name = ? "
                "ORDER BY position", "web") == [("default",), ("small",)]


def test_disk_devices_are_bind_mounts_read_only_when_asked(berthd, host_dir):
    berthd.ok("create", "web", "--template", "busybox")
    berthd.ok("config", "device", "add", "web", "data", "disk", f"source={host_dir}",
              "path=/data")
    berthd.ok("config", "device", "add", "web", "ro", "disk", f"source={host_dir}",
              "path=/mnt/ro", "readonly=true")
    listed = berthd.ok("config", "device", "list", "web").out
    assert f"data  disk  path=/data source={host_dir}" in listed, listed
    berthd.ok("start", "web")
    # The content is there, and a write through the writable mount reaches the host.
    assert berthd.ok("exec", "web", "--", "cat", "/data/hello").out == "from the host\n"
    berthd.ok("exec", "web", "--", "sh", "-c", "echo inside > /data/written")
    with open(os.path.join(host_dir, "written")) as f:
        assert f.read() == "inside\n"
    # The read-only mount shows the same content and refuses writes.
    assert berthd.ok("exec", "web", "--", "cat", "/mnt/ro/hello").out == "from the host\n"
    r = berthd.cli("exec", "web", "--", "sh", "-c", "echo x > /mnt/ro/nope")
    assert r.rc != 0 and "Read-only" in r.err, r
    assert not os.path.exists(os.path.join(host_dir, "nope"))

    # Removing a device on a running container applies at the next start, and says so.
    r = berthd.ok("config", "device", "remove", "web", "ro")
    assert "next starts" in r.err, r
    berthd.ok("restart", "web", "--force")
    wait_for(lambda: berthd.lxc_state("web")[0] == "RUNNING", what="web running")
    r = berthd.cli("exec", "web", "--", "test", "-e", "/mnt/ro/hello")
    assert r.rc == 1, r

    # A device from a profile works the same way.
    berthd.ok("profile", "create", "shared")
    berthd.ok("profile", "device", "add", "shared", "share", "disk", f"source={host_dir}",
              "path=/srv/share", "readonly=true")
    berthd.ok("launch", "db", "--template", "busybox", "-p", "default", "-p", "shared")
    assert berthd.ok("exec", "db", "--", "cat", "/srv/share/hello").out == "from the host\n"


def test_bad_devices_are_refused_and_change_nothing(berthd, host_dir):
    berthd.ok("create", "web", "--template", "busybox")
    berthd.ok("config", "device", "add", "web", "data", "disk", f"source={host_dir}",
              "path=/data")
    before = revision(berthd, "web")
    cases = [
        (["data2", "disk", "source=/no/such/dir", "path=/d"], 6, "does not exist"),
        (["data2", "disk", f"source={host_dir}", "path=relative"], 6, "absolute"),
        (["data2", "disk", f"source={host_dir}", "path=/data/../../etc"], 6, ".."),
        (["data2", "disk", f"source={host_dir}", "path=/x y"], 6, "spaces"),
        (["data2", "floppy", "source=/tmp"], 6, "unknown type"),
        (["data2", "disk", f"source={host_dir}", "path=/d", "mode=rw"], 6, "unknown option"),
        (["data2", "disk", f"source={host_dir}"], 6, "needs path"),
        (["data2", "disk", f"source={host_dir}", "path=/d", "readonly=yes"], 6, "true or false"),
        (["data", "disk", f"source={host_dir}", "path=/other"], 4, "already has a device"),
    ]
    for args, code, text in cases:
        r = berthd.cli("config", "device", "add", "web", *args)
        assert r.rc == code and text in r.err, (args, r)
        assert revision(berthd, "web") == before, args
    assert rows(berthd, "SELECT DISTINCT device FROM container_devices WHERE container_name = ?",
                "web") == [("data",)]
    r = berthd.cli("config", "device", "remove", "web", "nope")
    assert r.rc == 3, r

    # A nic device has its shape checked now and is refused at start: no managed networks yet.
    r = berthd.cli("config", "device", "add", "web", "eth1", "nic", "network=berthbr0",
                   "hwaddr=zz")
    assert r.rc == 6 and "hardware address" in r.err, r
    berthd.ok("config", "device", "add", "web", "eth1", "nic", "network=berthbr0")
    r = berthd.cli("start", "web")
    assert r.rc == 5 and "berthbr0" in r.err and "not available yet" in r.err, r
    assert berthd.lxc_state("web")[0] == "STOPPED"
    berthd.ok("config", "device", "remove", "web", "eth1")
    berthd.ok("start", "web")


def test_info_reports_usage_of_a_running_container(berthd):
    berthd.ok("launch", "web", "--template", "busybox", "-c", "limits.memory=200MiB")
    # Some CPU work so the counter moves.
    berthd.ok("exec", "web", "--", "sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done")
    info = berthd.ok("info", "web", "--format", "json").json()
    status = info["status"]
    assert status["state"] == "RUNNING"
    assert status["cpu_usage_nanoseconds"] > 0
    assert 0 < status["memory_usage_bytes"] <= status["memory_peak_bytes"]
    assert status["memory_limit_bytes"] == 200 * MiB
    assert status["processes"] >= 1
    _, pid = berthd.lxc_state("web")
    assert status["init_pid"] == pid
    assert info["profiles"] == ["default"]
