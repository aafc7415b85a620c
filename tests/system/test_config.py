"""berth config and resource limits against real busybox containers: limits given at launch and
changed live show in the container's own cgroup files (read from /sys/fs/cgroup through
/proc/<init>/cgroup), refused values change nothing (the SQLite rows and the cgroup file stay),
unset, show/edit round trips, environment.* reaching exec after a restart, and the LXC config's
settings section never piling up."""
import os
import re
import sqlite3

from conftest import wait_for

MiB = 1024 * 1024


def config_rows(berthd, name):
    """{key: value} of a container's config straight from SQLite, read-only."""
    con = sqlite3.connect(f"file:{berthd.db}?mode=ro", uri=True)
    try:
        return dict(con.execute(
            "SELECT key, value FROM container_config WHERE container_name = ? ORDER BY key",
            (name,)))
    finally:
        con.close()


def revision(berthd, name):
    con = sqlite3.connect(f"file:{berthd.db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT revision FROM containers WHERE name = ?", (name,)).fetchone()[0]
    finally:
        con.close()


def cgroup_file(berthd, name, controller, file):
    """The contents of a cgroup file of the container, found as the kernel places its init."""
    state, pid = berthd.lxc_state(name)
    assert state == "RUNNING" and pid > 0, (state, pid)
    with open(f"/proc/{pid}/cgroup") as f:
        lines = f.read().splitlines()
    v1 = [l.split(":", 2) for l in lines if not l.startswith("0:")]
    for _, controllers, path in v1:
        if controller in controllers.split(","):
            with open(f"/sys/fs/cgroup/{controllers}{path}/{file}") as f:
                return f.read().strip()
    unified = [l.split(":", 2)[2] for l in lines if l.startswith("0::")]
    root = "/sys/fs/cgroup/unified" if v1 else "/sys/fs/cgroup"
    with open(f"{root}{unified[0]}/{file}") as f:
        return f.read().strip()


def v1_memory():
    with open("/proc/self/cgroup") as f:
        return any(re.match(r"^[1-9]\d*:([^:]*,)?memory(,[^:]*)?:", l) for l in f)


def memory_limit(berthd, name):
    if v1_memory():
        return int(cgroup_file(berthd, name, "memory", "memory.limit_in_bytes"))
    text = cgroup_file(berthd, name, "memory", "memory.max")
    return None if text == "max" else int(text)


def pids_max(berthd, name):
    return cgroup_file(berthd, name, "pids", "pids.max")


def lxc_config(berthd, name):
    with open(os.path.join(berthd.lxc_path, name, "config")) as f:
        return f.read()


def test_launch_limits_reach_the_cgroup_and_change_live(berthd):
    berthd.ok("launch", "web", "--template", "busybox", "-c", "limits.memory=256MiB",
              "-c", "limits.processes=100")
    assert memory_limit(berthd, "web") == 256 * MiB
    assert pids_max(berthd, "web") == "100"
    assert config_rows(berthd, "web") == {"limits.memory": "256MiB", "limits.processes": "100"}
    # The LXC config's settings section holds exactly these limits, in the host's item names.
    section = lxc_config(berthd, "web").split("# BEGIN berth settings", 1)[1]
    lines = [l for l in section.splitlines()[1:] if l != "# END berth settings"]
    prefix = "lxc.cgroup." if v1_memory() else "lxc.cgroup2."
    assert lines == [f"{prefix}{'memory.limit_in_bytes' if v1_memory() else 'memory.max'} = "
                     f"{256 * MiB}", f"{prefix}pids.max = 100"], lines

    r = berthd.ok("config", "set", "web", "limits.memory=512MiB", "limits.processes=200")
    assert r.err == ""  # all live: no notice
    assert memory_limit(berthd, "web") == 512 * MiB
    assert pids_max(berthd, "web") == "200"
    assert berthd.ok("config", "get", "web", "limits.memory").out == "512MiB\n"
    # The container still runs with the same init: the change was live.
    assert berthd.lxc_state("web")[0] == "RUNNING"

    # Unset: back to unlimited in the running container and gone from the row.
    berthd.ok("config", "unset", "web", "limits.memory", "limits.processes")
    limit = memory_limit(berthd, "web")
    assert limit is None or limit > 1 << 50
    assert pids_max(berthd, "web") == "max"
    assert config_rows(berthd, "web") == {}
    assert berthd.ok("config", "get", "web", "limits.memory").out == ""

    # berth info shows the limit and the usage from the cgroup.
    berthd.ok("config", "set", "web", "limits.memory=300MiB")
    info = berthd.ok("info", "web", "--format", "json").json()
    assert info["status"]["memory_limit_bytes"] == 300 * MiB
    assert 0 < info["status"]["memory_usage_bytes"] <= info["status"]["memory_peak_bytes"]
    assert info["status"]["processes"] >= 1
    table = berthd.ok("info", "web").out
    assert re.search(r"Memory:\s+.*\(peak .*, limit 300\.0 MiB\)", table), table
    assert re.search(r"Processes:\s+\d+", table), table


def test_no_swap_sets_memsw_on_v1(berthd):
    if not (v1_memory() and os.path.exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")):
        # cgroup v2: memory.swap.max is the item.
        berthd.ok("launch", "web", "--template", "busybox", "-c", "limits.memory=128MiB",
                  "-c", "limits.memory.swap=false")
        assert cgroup_file(berthd, "web", "memory", "memory.swap.max") == "0"
        return
    berthd.ok("launch", "web", "--template", "busybox", "-c", "limits.memory=128MiB",
              "-c", "limits.memory.swap=false")
    assert int(cgroup_file(berthd, "web", "memory", "memory.memsw.limit_in_bytes")) == 128 * MiB
    # Raising the limit live raises memory+swap first (the kernel keeps memsw >= memory).
    berthd.ok("config", "set", "web", "limits.memory=256MiB")
    assert memory_limit(berthd, "web") == 256 * MiB
    assert int(cgroup_file(berthd, "web", "memory", "memory.memsw.limit_in_bytes")) == 256 * MiB
    berthd.ok("config", "set", "web", "limits.memory=64MiB")
    assert memory_limit(berthd, "web") == 64 * MiB
    assert int(cgroup_file(berthd, "web", "memory", "memory.memsw.limit_in_bytes")) == 64 * MiB


def test_refused_values_change_nothing(berthd):
    berthd.ok("launch", "web", "--template", "busybox", "-c", "limits.memory=256MiB")
    before_rows = config_rows(berthd, "web")
    before_revision = revision(berthd, "web")
    ncpu = os.cpu_count()
    for args in (["limits.memory=lots"],
                 ["limits.memory=512MiB", "limits.memroy=1GiB"],   # one bad key spoils all
                 [f"limits.cpu={ncpu + 1}"],
                 ["limits.processes=0"],
                 ["raw.lxc=lxc.hook.pre-start = /bin/sh -c 'touch /tmp/pwned'"],
                 ["raw.lxc=lxc.cgroup.cpu.shares = 5\nlxc.hook.start = /bin/true"],
                 ["environment.BAD-NAME=x"]):
        r = berthd.cli("config", "set", "web", *args)
        assert r.rc == 6, (args, r)
        assert r.err.startswith("berth: ") and len(r.err.strip().splitlines()) == 1, r
        assert config_rows(berthd, "web") == before_rows
        assert revision(berthd, "web") == before_revision
        assert memory_limit(berthd, "web") == 256 * MiB
    assert "lxc.hook" not in lxc_config(berthd, "web")
    r = berthd.cli("config", "unset", "web", "no.such.key")
    assert r.rc == 6 and "no.such.key" in r.err
    # A bad value at launch creates nothing.
    r = berthd.cli("launch", "db", "--template", "busybox", "-c", "limits.memory=1")
    assert r.rc == 6 and "limits.memory" in r.err
    assert "db" not in berthd.db_rows() and "db" not in berthd.lxc_names()
    r = berthd.cli("config", "set", "ghost", "limits.memory=1GiB")
    assert r.rc == 3


def test_environment_reaches_exec_and_init_after_restart(berthd):
    berthd.ok("launch", "web", "--template", "busybox")
    r = berthd.ok("config", "set", "web", "environment.GREETING=hello world")
    assert "environment.GREETING" in r.err and "next starts" in r.err  # the notice
    # exec gets it at once (from the stored config)...
    out = berthd.ok("exec", "web", "--", "env").out
    assert "GREETING=hello world" in out.splitlines()
    # ... and the init after a restart (lxc.environment in the settings section).
    berthd.ok("restart", "web", "--force")
    wait_for(lambda: berthd.lxc_state("web")[0] == "RUNNING", what="web running")
    _, pid = berthd.lxc_state("web")
    with open(f"/proc/{pid}/environ", "rb") as f:
        assert b"GREETING=hello world" in f.read().split(b"\0")
    assert "lxc.environment = GREETING=hello world" in lxc_config(berthd, "web")
    # --env still wins over the config.
    out = berthd.ok("exec", "--env", "GREETING=override", "web", "--", "env").out
    assert "GREETING=override" in out.splitlines()


def test_settings_section_is_rewritten_not_piled_up(berthd):
    berthd.ok("launch", "web", "--template", "busybox", "-c", "limits.processes=50",
              "-c", "raw.lxc=lxc.prlimit.nofile = 2048")
    for value in ("60", "70"):
        berthd.ok("config", "set", "web", f"limits.processes={value}")
        berthd.ok("restart", "web", "--force")
        wait_for(lambda: berthd.lxc_state("web")[0] == "RUNNING", what="web running")
    text = lxc_config(berthd, "web")
    assert text.count("# BEGIN berth settings") == 1, text
    assert text.count("pids.max") == 1 and "pids.max = 70" in text, text
    assert text.count("lxc.prlimit.nofile = 2048") == 1
    assert pids_max(berthd, "web") == "70"
    _, pid = berthd.lxc_state("web")
    with open(f"/proc/{pid}/limits") as f:
        assert re.search(r"Max open files\s+2048\s+2048", f.read())
    # Removing every setting removes the section at the next start.
    berthd.ok("config", "unset", "web", "limits.processes", "raw.lxc")
    berthd.ok("stop", "web", "--force")
    berthd.ok("start", "web")
    assert "# BEGIN berth settings" not in lxc_config(berthd, "web")
    # A rename keeps no stale section either (the config is rewritten from the template's keys).
    berthd.ok("config", "set", "web", "environment.A=1")
    berthd.ok("stop", "web", "--force")
    berthd.ok("start", "web")
    berthd.ok("stop", "web", "--force")
    berthd.ok("rename", "web", "web2")
    berthd.ok("start", "web2")
    assert lxc_config(berthd, "web2").count("lxc.environment = A=1") == 1


def test_show_and_edit_round_trip(berthd):
    berthd.ok("create", "web", "--template", "busybox", "-c", "limits.memory=256MiB",
              "-c", "user.note=keep: me", "-c", "raw.lxc=lxc.cgroup.cpu.shares = 512\n"
              "lxc.prlimit.nofile = 1024")
    shown = berthd.ok("config", "show", "web").out
    assert 'limits.memory: "256MiB"' in shown
    # Feeding show's output back to edit changes nothing.
    before = revision(berthd, "web")
    berthd.ok("config", "edit", "web", input=shown)
    assert revision(berthd, "web") == before
    assert config_rows(berthd, "web")["raw.lxc"] == (
        "lxc.cgroup.cpu.shares = 512\nlxc.prlimit.nofile = 1024")
    # An edited document: one key changed, one removed, one added.
    edited = shown.replace('"256MiB"', '"128MiB"').replace('user.note: "keep: me"\n', "")
    edited += "limits.processes: 64\n"
    berthd.ok("config", "edit", "web", input=edited)
    rows = config_rows(berthd, "web")
    assert rows["limits.memory"] == "128MiB"
    assert rows["limits.processes"] == "64"
    assert "user.note" not in rows
    # Bad YAML or a bad value: nothing changes.
    before = revision(berthd, "web")
    r = berthd.cli("config", "edit", "web", input="limits.memory: [1, 2]\n")
    assert r.rc == 6 and "limits.memory" in r.err
    r = berthd.cli("config", "edit", "web", input="limits.memory: lots\n")
    assert r.rc == 6 and "limits.memory" in r.err
    assert revision(berthd, "web") == before
    # --expanded adds the defaults of unset keys as comments.
    expanded = berthd.ok("config", "show", "web", "--expanded").out
    assert "# limits.cpu: all host CPUs (default)" in expanded
    assert "# limits.memory:" not in expanded


def test_config_keys_lists_the_schema(berthd):
    table = berthd.ok("config", "keys").out.splitlines()
    assert re.split(r"\s+", table[0].strip())[:4] == ["KEY", "TYPE", "DEFAULT", "LIVE"]
    names = [re.split(r"\s+", line)[0] for line in table[1:]]
    for key in ("limits.cpu", "limits.cpu.allowance", "limits.memory", "limits.memory.swap",
                "limits.processes", "environment.*", "user.*", "raw.lxc"):
        assert key in names
    import json
    keys = {k["name"]: k for k in json.loads(berthd.ok("config", "keys", "--format", "json").out)}
    assert keys["limits.memory"]["live"] is True
    assert keys["raw.lxc"]["live"] is False
    assert berthd.cli("config").rc == 2
    assert berthd.cli("config", "frobnicate", "web").rc == 2


def test_cpu_limits_reach_the_cgroup(berthd):
    berthd.ok("launch", "web", "--template", "busybox", "-c", "limits.cpu=1",
              "-c", "limits.cpu.allowance=25ms/100ms")
    assert cgroup_file(berthd, "web", "cpuset", "cpuset.cpus") == "0"
    if v1_memory():
        assert cgroup_file(berthd, "web", "cpu", "cpu.cfs_quota_us") == "25000"
        assert cgroup_file(berthd, "web", "cpu", "cpu.cfs_period_us") == "100000"
        berthd.ok("config", "set", "web", "limits.cpu.allowance=50%")
        assert cgroup_file(berthd, "web", "cpu", "cpu.cfs_quota_us") == "50000"
        berthd.ok("config", "unset", "web", "limits.cpu.allowance", "limits.cpu")
        assert cgroup_file(berthd, "web", "cpu", "cpu.cfs_quota_us") == "-1"
        assert cgroup_file(berthd, "web", "cpuset", "cpuset.cpus") == f"0-{os.cpu_count() - 1}"
    else:
        assert cgroup_file(berthd, "web", "cpu", "cpu.max") == "25000 100000"


def test_edit_on_a_terminal_runs_the_editor(berthd):
    """With a terminal on stdin, edit opens $EDITOR on a temp file and applies what it saved."""
    import pty
    import subprocess
    from conftest import BERTH
    berthd.ok("create", "web", "--template", "busybox", "-c", "limits.memory=256MiB")
    master, slave = pty.openpty()
    try:
        env = dict(os.environ, EDITOR="sed -i -e s/256MiB/128MiB/", VISUAL="")
        proc = subprocess.run([BERTH, "--socket", berthd.socket, "config", "edit", "web"],
                              stdin=slave, capture_output=True, text=True, env=env, timeout=60)
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 0, proc
    assert config_rows(berthd, "web") == {"limits.memory": "128MiB"}
    assert not [f for f in os.listdir("/tmp") if f.startswith("berth-config-")]
    # An editor that fails changes nothing.
    master, slave = pty.openpty()
    try:
        env = dict(os.environ, EDITOR="false", VISUAL="")
        proc = subprocess.run([BERTH, "--socket", berthd.socket, "config", "edit", "web"],
                              stdin=slave, capture_output=True, text=True, env=env, timeout=60)
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 1 and "nothing was changed" in proc.stderr, proc
    assert config_rows(berthd, "web") == {"limits.memory": "128MiB"}
