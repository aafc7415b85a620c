"""Every command of the README, through the real berth CLI, real berthd and real liblxc. What
berth says is checked against what LXC's own tools and the SQLite file say."""
import csv
import io
import json
import os
import re

import yaml


def by_name(listing):
    return {c["name"]: c for c in listing}


def test_launch_list_info_version(berthd):
    r = berthd.ok("launch", "web", "--template", "busybox", "-l", "tier=front")
    state, pid = berthd.lxc_state("web")
    assert state == "RUNNING" and pid > 0
    assert berthd.db_rows() == {"web": 0}
    for f in ("berth.db", "berth.db-wal"):  # Definitions are root's alone.
        assert os.stat(os.path.join(berthd.state_dir, f)).st_mode & 0o777 == 0o600

    table = berthd.ok("list").out.splitlines()
    assert re.split(r"\s+", table[0].strip()) == ["NAME", "STATE", "PID", "MEMORY", "IPV4",
                                                  "CREATED"]
    assert re.split(r"\s+", table[1].strip())[:3] == ["web", "RUNNING", str(pid)]

    listing = berthd.ok("list", "--format", "json").json()
    web = by_name(listing)["web"]
    assert web["status"]["state"] == "RUNNING"
    assert web["status"]["init_pid"] == pid
    assert web["labels"] == {"tier": "front"}
    assert web["source"]["template"]["name"] == "busybox"

    assert by_name(yaml.safe_load(berthd.ok("list", "--format", "yaml").out))["web"][
        "status"]["init_pid"] == pid
    rows = list(csv.DictReader(io.StringIO(berthd.ok("list", "--format", "csv").out)))
    assert rows[0]["name"] == "web" and rows[0]["state"] == "RUNNING"
    assert rows[0]["init_pid"] == str(pid)

    info = berthd.ok("info", "web").out
    assert re.search(r"^State:\s+RUNNING$", info, re.M)
    assert re.search(rf"^PID:\s+{pid}$", info, re.M)
    assert re.search(r"^Memory:\s+\d", info, re.M)
    info_json = berthd.ok("info", "web", "--format", "json").json()
    assert info_json["status"]["memory_usage_bytes"] > 0

    version = berthd.ok("version", "--format", "json").json()
    assert version["api_version"] == "v1"
    assert version["client_version"] == version["daemon_version"]
    assert version["liblxc_version"].startswith("5.")


def test_stop_start_restart_pause_resume(berthd):
    berthd.ok("launch", "web", "--template", "busybox")
    _, pid1 = berthd.lxc_state("web")

    berthd.ok("pause", "web")
    assert berthd.lxc_state("web")[0] == "FROZEN"
    assert berthd.ok("info", "web", "--format", "json").json()["status"]["state"] == "FROZEN"
    berthd.ok("resume", "web")
    assert berthd.lxc_state("web") == ("RUNNING", pid1)

    berthd.ok("stop", "web", "--timeout", "10")  # Clean: busybox halts on its signal.
    assert berthd.lxc_state("web")[0] == "STOPPED"
    berthd.ok("start", "web")
    state, pid2 = berthd.lxc_state("web")
    assert state == "RUNNING" and pid2 != pid1

    berthd.ok("restart", "web", "--force")
    state, pid3 = berthd.lxc_state("web")
    assert state == "RUNNING" and pid3 not in (pid1, pid2)

    berthd.ok("stop", "web", "--force")
    assert berthd.lxc_state("web")[0] == "STOPPED"
    assert berthd.ok("list", "--format", "json").json()[0]["status"]["state"] == "STOPPED"


def test_rename_and_delete(berthd):
    berthd.ok("create", "web", "--template", "busybox")
    assert berthd.lxc_state("web")[0] == "STOPPED"
    berthd.ok("rename", "web", "web2")
    assert berthd.lxc_names() == {"web2"}
    assert berthd.db_rows() == {"web2": 0}
    # The renamed container really works under its new name.
    berthd.ok("start", "web2")
    assert berthd.lxc_state("web2")[0] == "RUNNING"

    r = berthd.cli("delete", "web2")
    assert r.rc == 5 and "RUNNING" in r.err and "force" in r.err
    assert berthd.lxc_state("web2")[0] == "RUNNING"

    berthd.ok("delete", "web2", "--force")
    assert berthd.lxc_names() == set()
    assert berthd.db_rows() == {}
    assert not os.path.exists(os.path.join(berthd.lxc_path, "web2"))
    assert berthd.ok("list", "--format", "json").json() == []


def test_wait_and_host(berthd):
    berthd.ok("launch", "web", "--template", "busybox")
    r = berthd.cli("wait", "web", "--state", "stopped", "--timeout", "1")
    assert r.rc == 9, r
    # Stopped from outside berth, with LXC's own tool: berth's wait sees the exit.
    import subprocess
    subprocess.run(["lxc-stop", "-P", berthd.lxc_path, "-n", "web", "-k"], check=True)
    berthd.ok("wait", "web", "--state", "stopped", "--timeout", "10")
    assert berthd.ok("info", "web", "--format", "json").json()["status"]["state"] == "STOPPED"

    host = berthd.ok("host", "--format", "json").json()
    assert host["containers_total"] == 1
    assert host["containers_stopped"] == 1
    assert host["lxc_path"] == berthd.lxc_path


def test_saved_config_holds_exactly_berths_keys(berthd):
    berthd.ok("create", "web", "--template", "busybox")
    keys = set()
    with open(os.path.join(berthd.lxc_path, "web", "config")) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                keys.add(line.split("=", 1)[0].strip())
    # Exactly the keys berth writes for a busybox container: its own, LXC's standard device
    # rules, and the template's signals and bind mounts. Loopback only: one lxc.net key, no NIC
    # from /etc/lxc/default.conf, and no hook of any kind.
    assert keys == {
        "lxc.uts.name", "lxc.rootfs.path", "lxc.log.file", "lxc.log.level", "lxc.console.logfile",
        "lxc.console.size", "lxc.console.rotate", "lxc.net.0.type",
        "lxc.autodev", "lxc.mount.auto", "lxc.mount.entry", "lxc.cap.drop", "lxc.tty.max",
        "lxc.pty.max", "lxc.seccomp.profile", "lxc.cgroup.devices.deny",
        "lxc.cgroup.devices.allow", "lxc.cgroup2.devices.deny", "lxc.cgroup2.devices.allow",
        "lxc.signal.halt", "lxc.signal.reboot"}
