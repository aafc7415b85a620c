"""berth snapshot create/list/restore/delete and berth copy against real busybox containers: file
contents read back through exec, the definition (config, labels) saved and restored, snapshots
carried by rename and removed by delete, and bad input refused with nothing left behind (no row,
no directory)."""
import os
import sqlite3
import subprocess

import pytest

from conftest import Daemon, wait_for


def snapshot_rows(berthd):
    """{(container, snapshot)} straight from SQLite, read-only."""
    con = sqlite3.connect(f"file:{berthd.db}?mode=ro", uri=True)
    try:
        return set(con.execute("SELECT container_name, name FROM container_snapshots"))
    finally:
        con.close()


def snapshot_dirs(berthd, name):
    path = os.path.join(berthd.lxc_path, name, "snapshots")
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def cat(berthd, name, path):
    return berthd.ok("exec", name, "--", "cat", path).out


def write(berthd, name, path, text):
    berthd.ok("exec", name, "--", "sh", "-c", f"printf %s '{text}' > {path}")


def test_snapshot_restore_round_trip_with_content_and_definition(berthd):
    berthd.ok("launch", "web", "--template", "busybox", "-l", "tier=front",
              "-c", "limits.memory=256MiB")
    write(berthd, "web", "/root/state", "before")

    # A running container is frozen for the copy and keeps running.
    r = berthd.ok("snapshot", "create", "web", "before-upgrade")
    assert "before-upgrade" in r.out
    assert berthd.lxc_state("web")[0] == "RUNNING"
    assert snapshot_rows(berthd) == {("web", "before-upgrade")}
    assert snapshot_dirs(berthd, "web") == ["before-upgrade"]
    with open(os.path.join(berthd.lxc_path, "web/snapshots/before-upgrade/rootfs/root/state")) as f:
        assert f.read() == "before"

    write(berthd, "web", "/root/state", "after")
    write(berthd, "web", "/root/new", "x")
    berthd.ok("config", "set", "web", "limits.memory=512MiB")
    listed = berthd.ok("snapshot", "list", "web", "--format", "json").json()
    assert [s["name"] for s in listed] == ["before-upgrade"]
    assert listed[0]["config"] == {"limits.memory": "256MiB"}
    assert listed[0]["labels"] == {"tier": "front"}
    table = berthd.ok("snapshot", "list", "web").out.splitlines()
    assert table[0].split() == ["NAME", "CREATED"] and table[1].startswith("before-upgrade ")

    # Running: refused, with the way out named; nothing changes.
    r = berthd.cli("snapshot", "restore", "web", "before-upgrade")
    assert r.rc == 5 and "RUNNING" in r.err and "--restart" in r.err, r
    assert cat(berthd, "web", "/root/state") == "after"

    # --restart: stopped, restored, started again.
    pid_before = berthd.lxc_state("web")[1]
    berthd.ok("snapshot", "restore", "web", "before-upgrade", "--restart")
    state, pid = berthd.lxc_state("web")
    assert state == "RUNNING" and pid != pid_before
    assert cat(berthd, "web", "/root/state") == "before"
    r = berthd.cli("exec", "web", "--", "test", "-e", "/root/new")
    assert r.rc == 1, r
    assert berthd.ok("config", "get", "web", "limits.memory").out == "256MiB\n"

    # Stopped: restored in place, stays stopped. The snapshot can be restored again and again.
    write(berthd, "web", "/root/state", "third")
    berthd.ok("stop", "web", "--force")
    berthd.ok("snapshot", "restore", "web", "before-upgrade")
    assert berthd.lxc_state("web")[0] == "STOPPED"
    with open(os.path.join(berthd.lxc_path, "web/rootfs/root/state")) as f:
        assert f.read() == "before"
    assert not [n for n in os.listdir(os.path.join(berthd.lxc_path, "web")) if n.startswith(".")]

    berthd.ok("snapshot", "delete", "web", "before-upgrade")
    assert snapshot_rows(berthd) == set()
    assert snapshot_dirs(berthd, "web") == []
    assert berthd.ok("snapshot", "list", "web", "--format", "json").json() == []


def test_snapshot_errors_leave_nothing_behind(berthd):
    r = berthd.cli("snapshot", "create", "ghost", "s1")
    assert r.rc == 3 and '"ghost" not found' in r.err, r
    berthd.ok("create", "web", "--template", "busybox")
    for bad in ["../x", "a/b", ".hidden", "-x", "a b", "x" * 64, "a\nb"]:
        r = berthd.cli("snapshot", "create", "web", "--", bad)
        assert r.rc == 6 and "invalid snapshot name" in r.err, (bad, r)
        assert r.err.count("\n") == 1
    assert snapshot_rows(berthd) == set() and snapshot_dirs(berthd, "web") == []

    berthd.ok("snapshot", "create", "web", "s1")
    r = berthd.cli("snapshot", "create", "web", "s1")
    assert r.rc == 4 and 'already has a snapshot "s1"' in r.err, r
    for verb in ("restore", "delete"):
        r = berthd.cli("snapshot", verb, "web", "nope")
        assert r.rc == 3 and 'has no snapshot "nope"' in r.err, (verb, r)
    assert snapshot_rows(berthd) == {("web", "s1")}
    assert snapshot_dirs(berthd, "web") == ["s1"]
    r = berthd.cli("snapshot", "create", "web")
    assert r.rc == 2, r
    r = berthd.cli("snapshot", "frobnicate", "web", "s1")
    assert r.rc == 2, r


def test_rename_carries_snapshots_and_delete_removes_them(berthd):
    berthd.ok("launch", "web", "--template", "busybox")
    write(berthd, "web", "/root/state", "one")
    berthd.ok("snapshot", "create", "web", "s1")
    berthd.ok("stop", "web", "--force")
    berthd.ok("rename", "web", "web2")
    assert snapshot_rows(berthd) == {("web2", "s1")}
    assert snapshot_dirs(berthd, "web2") == ["s1"]
    berthd.ok("start", "web2")
    write(berthd, "web2", "/root/state", "two")
    berthd.ok("snapshot", "restore", "web2", "s1", "--restart")
    assert cat(berthd, "web2", "/root/state") == "one"

    berthd.ok("delete", "web2", "--force")
    assert snapshot_rows(berthd) == set()
    assert os.listdir(berthd.lxc_path) == []
    # A new container of the same name starts without snapshots.
    berthd.ok("create", "web2", "--template", "busybox")
    assert berthd.ok("snapshot", "list", "web2", "--format", "json").json() == []


def test_copy_of_a_running_container(berthd):
    berthd.ok("launch", "web", "--template", "busybox", "-l", "tier=front",
              "-c", "limits.processes=300")
    write(berthd, "web", "/root/state", "original")
    berthd.ok("snapshot", "create", "web", "s1")

    # Allowed while running: the source is frozen for the copy, and runs on.
    r = berthd.ok("copy", "web", "web-test")
    assert "web-test" in r.out
    assert berthd.lxc_state("web")[0] == "RUNNING"
    assert berthd.lxc_state("web-test")[0] == "STOPPED"
    info = berthd.ok("info", "web-test", "--format", "json").json()
    assert info["labels"] == {"tier": "front"}
    assert berthd.ok("config", "get", "web-test", "limits.processes").out == "300\n"
    # Its own files, not the snapshots.
    assert snapshot_dirs(berthd, "web-test") == []
    assert berthd.ok("snapshot", "list", "web-test", "--format", "json").json() == []
    berthd.ok("start", "web-test")
    assert cat(berthd, "web-test", "/root/state") == "original"
    write(berthd, "web-test", "/root/state", "changed in the copy")
    assert cat(berthd, "web", "/root/state") == "original"
    assert berthd.db_rows() == {"web": 0, "web-test": 0}


def test_copy_errors_leave_nothing_behind(berthd):
    r = berthd.cli("copy", "ghost", "g2")
    assert r.rc == 3 and '"ghost" not found' in r.err, r
    berthd.ok("create", "web", "--template", "busybox")
    berthd.ok("create", "db", "--template", "busybox")
    r = berthd.cli("copy", "web", "db")
    assert r.rc == 4 and '"db" already exists' in r.err, r
    r = berthd.cli("copy", "web", "web")
    assert r.rc == 6, r
    for bad in ["../x", "a/b", "a.b", "-x"]:
        r = berthd.cli("copy", "web", "--", bad)
        assert r.rc == 6 and "invalid container name" in r.err, (bad, r)
    r = berthd.cli("copy", "web")
    assert r.rc == 2, r
    assert berthd.db_rows() == {"web": 0, "db": 0}
    assert sorted(os.listdir(berthd.lxc_path)) == ["db", "web"]


@pytest.fixture
def small_disk_berthd(daemon_root):
    """A berthd whose state directory is a small tmpfs: room for one busybox container and a
    little more, not for a second copy of its root filesystem."""
    state = os.path.join(daemon_root, "state")
    os.makedirs(state)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", state], check=True,
                   timeout=30)
    d = Daemon(daemon_root)
    d.start()
    yield d
    if d.proc and d.proc.poll() is None:
        d.stop()
    d.cleanup_containers()
    subprocess.run(["umount", "-l", state], timeout=30)


def test_disk_full_snapshot_and_copy_are_refused_cleanly(small_disk_berthd):
    berthd = small_disk_berthd
    berthd.ok("create", "web", "--template", "busybox")
    # Fill the disk up to a little more than the container's own size.
    used = int(subprocess.run(["du", "-sk", os.path.join(berthd.lxc_path, "web")],
                              capture_output=True, text=True, check=True,
                              timeout=30).stdout.split()[0])
    st = os.statvfs(berthd.state_dir)
    free_k = st.f_bavail * st.f_frsize // 1024
    filler = os.path.join(berthd.state_dir, "filler")
    if free_k > used // 2:
        with open(filler, "wb") as f:
            f.write(b"\0" * ((free_k - used // 2) * 1024))
    r = berthd.cli("snapshot", "create", "web", "s1")
    assert r.rc == 5 and "not enough free space" in r.err, r
    assert snapshot_rows(berthd) == set() and snapshot_dirs(berthd, "web") == []
    r = berthd.cli("copy", "web", "web2")
    assert r.rc == 5 and "not enough free space" in r.err, r
    assert berthd.db_rows() == {"web": 0}
    assert os.listdir(berthd.lxc_path) == ["web"]
    # With room again, the same commands work.
    os.unlink(filler)
    berthd.ok("snapshot", "create", "web", "s1")
    assert snapshot_rows(berthd) == {("web", "s1")}
