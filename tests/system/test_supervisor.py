"""Supervision against real containers: exit codes, restart policy, autostart once per boot, and
the ordered stop at host shutdown (SIGPWR). Every wait is bounded; backoff starts at 1 s."""
import os
import re
import shlex
import signal
import subprocess
import time

import pytest

from conftest import SOURCE_DIR, Daemon, wait_for

BOOT_ID = "/proc/sys/kernel/random/boot_id"


def launch(d, name, *config, start=True):
    args = ["launch" if start else "create", name, "--template", "busybox"]
    for kv in config:
        args += ["-c", kv]
    d.ok(*args)


def running_pid(d, name):
    state, pid = d.lxc_state(name)
    return pid if state == "RUNNING" and pid else None


def kill_init(d, name):
    pid = running_pid(d, name)
    assert pid, f"{name} is not running: {d.lxc_state(name)}"
    os.kill(pid, signal.SIGKILL)
    return pid


def restarted(d, name, old_pid):
    pid = running_pid(d, name)
    return pid is not None and pid != old_pid


def log_has(d, text, since=0):
    """Whether berthd's log (appended to across restarts) has `text` after offset `since`."""
    return text in d.log()[since:]


def log_times(d, pattern):
    """(time in seconds, name) of every berthd log line matching `pattern` (one group: the name)."""
    out = []
    for line in d.log().splitlines():
        m = re.match(r"\S+ (\d+):(\d+):(\d+\.\d+) .*" + pattern, line)
        if m:
            h, mi, s = m.group(1), m.group(2), m.group(3)
            out.append((int(h) * 3600 + int(mi) * 60 + float(s), m.group(4)))
    return out


def test_exit_code_is_learned_and_never_leaves_it_stopped(berthd):
    launch(berthd, "nev")  # restart.policy defaults to never
    launch(berthd, "witness", "restart.policy=always")
    kill_init(berthd, "nev")
    w = kill_init(berthd, "witness")
    # The exit is seen and its code (128 + SIGKILL) comes from liblxc's monitor.
    wait_for(lambda: log_has(berthd, 'Container "nev" stopped: its init exited (exit code 137)'),
             timeout=15, what="the exit of nev with its code")
    assert berthd.lxc_state("nev")[0] == "STOPPED"
    assert berthd.ok("info", "nev", "--format", "json").json()["status"]["state"] == "STOPPED"
    # The witness, killed at the same time, is back after its 1 s backoff; by then a restart of
    # "nev" would have happened too.
    wait_for(lambda: restarted(berthd, "witness", w), timeout=20, what="witness restarted")
    assert berthd.lxc_state("nev")[0] == "STOPPED"
    assert 'Container "nev": ' not in berthd.log()  # no restart decision for it


def test_on_failure_restarts_a_crash_but_not_a_clean_halt(berthd):
    launch(berthd, "crashy", "restart.policy=on-failure")
    launch(berthd, "clean", "restart.policy=on-failure")
    launch(berthd, "witness", "restart.policy=always")
    pid = kill_init(berthd, "crashy")
    wait_for(lambda: restarted(berthd, "crashy", pid), timeout=20, what="crashy restarted")
    assert log_has(berthd, 'Container "crashy": its init exited with code 137; restart 1 in 1s')

    # A clean halt from outside berth (the init powers off: exit code 0) is not a failure.
    w = running_pid(berthd, "witness")
    for name in ("clean", "witness"):
        r = os.system(f"lxc-stop -P {berthd.lxc_path} -n {name} -t 20 >/dev/null 2>&1")
        assert r == 0
    wait_for(lambda: restarted(berthd, "witness", w), timeout=20, what="witness restarted")
    assert log_has(berthd, 'Container "clean" stopped: its init exited (exit code 0)')
    assert log_has(berthd, 'Container "clean" exited cleanly')
    assert berthd.lxc_state("clean")[0] == "STOPPED"


def test_restart_max_gives_up_and_leaves_it_stopped(berthd):
    launch(berthd, "flaky", "restart.policy=always", "restart.max=2")
    for attempt in (1, 2):
        pid = kill_init(berthd, "flaky")
        wait_for(lambda: restarted(berthd, "flaky", pid), timeout=20,
                 what=f"restart {attempt}")
    assert log_has(berthd, "restart 1 of at most 2 in 1s")
    assert log_has(berthd, "restart 2 of at most 2 in 2s")
    kill_init(berthd, "flaky")
    wait_for(lambda: log_has(berthd, "restart.max (2) restarts in a row did not help"),
             timeout=15, what="the give-up")
    assert berthd.lxc_state("flaky")[0] == "STOPPED"
    # A stop through berth never restarts, whatever the policy.
    berthd.ok("start", "flaky")
    berthd.ok("stop", "flaky", "--force")
    launch(berthd, "witness", "restart.policy=always")
    w = kill_init(berthd, "witness")
    wait_for(lambda: restarted(berthd, "witness", w), timeout=20, what="witness restarted")
    assert berthd.lxc_state("flaky")[0] == "STOPPED"


def test_autostart_once_per_boot_in_priority_order(berthd):
    wait_for(lambda: os.path.exists(os.path.join(berthd.state_dir, "boot_id")), timeout=20,
             what="the first autostart to record the boot")
    with open(BOOT_ID) as f:
        boot_id = f.read().strip()
    with open(os.path.join(berthd.state_dir, "boot_id")) as f:
        assert f.read().strip() == boot_id
    launch(berthd, "low", "boot.autostart=true", start=False)
    launch(berthd, "high", "boot.autostart=true", "boot.autostart.priority=10",
           "boot.autostart.delay=1", start=False)
    launch(berthd, "mid", "boot.autostart=true", "boot.autostart.priority=5", start=False)
    launch(berthd, "manual", "boot.autostart=false", "boot.autostart.priority=99", start=False)

    # berthd restarts within the same boot: nothing starts.
    assert berthd.stop() == 0
    berthd.start()
    wait_for(lambda: log_has(berthd, "already autostarted in this boot"), timeout=20,
             what="the same-boot check")
    assert all(berthd.lxc_state(n)[0] == "STOPPED" for n in ("low", "high", "mid", "manual"))

    # A new boot (the recorded id differs): they start, highest priority first, with the delay.
    assert berthd.stop() == 0
    with open(os.path.join(berthd.state_dir, "boot_id"), "w") as f:
        f.write("00000000-0000-0000-0000-000000000000\n")
    since = len(berthd.log())
    berthd.start()
    wait_for(lambda: log_has(berthd, "Autostart done", since), timeout=30,
             what="autostart to finish")
    for name in ("low", "high", "mid"):
        assert berthd.lxc_state(name)[0] == "RUNNING", (name, berthd.log())
    assert berthd.lxc_state("manual")[0] == "STOPPED"
    started = log_times(berthd, r'Autostarted container "([a-z]+)"')
    assert [n for _, n in started] == ["high", "mid", "low"]
    assert started[1][0] - started[0][0] >= 1.0  # boot.autostart.delay of "high"
    with open(os.path.join(berthd.state_dir, "boot_id")) as f:
        assert f.read().strip() == boot_id


def test_sigpwr_stops_containers_in_reverse_priority_then_exits(berthd):
    launch(berthd, "db", "boot.autostart.priority=10", "boot.stop.timeout=10")
    launch(berthd, "app", "boot.autostart.priority=5", "boot.stop.timeout=10",
           "restart.policy=always")
    launch(berthd, "web", "boot.stop.timeout=10")
    launch(berthd, "idle", start=False)
    t0 = time.monotonic()
    rc = berthd.stop(signal.SIGPWR, timeout=90)
    assert rc == 0, berthd.log()
    assert time.monotonic() - t0 < 60
    for name in ("db", "app", "web", "idle"):
        assert berthd.lxc_state(name)[0] == "STOPPED", name
    stopped = [n for _, n in log_times(berthd, r'\[core\] Stopped container "([a-z]+)"$')]
    assert stopped == ["web", "app", "db"], stopped
    assert 'Restarted container "app"' not in berthd.log()


def test_sigterm_leaves_supervised_containers_running(daemon_root):
    d = Daemon(daemon_root)
    d.start()
    try:
        launch(d, "web", "restart.policy=always", "boot.autostart=true")
        pid = running_pid(d, "web")
        assert d.stop(signal.SIGTERM) == 0
        assert d.lxc_state("web") == ("RUNNING", pid)
        d.start()  # same boot: adopts it, starts and stops nothing
        wait_for(lambda: log_has(d, "already autostarted in this boot"), timeout=20,
                 what="the same-boot check")
        assert d.lxc_state("web") == ("RUNNING", pid)
    finally:
        if d.proc and d.proc.poll() is None:
            d.stop(signal.SIGKILL)
        d.cleanup_containers()


def test_bad_supervision_values_are_refused(berthd):
    r = berthd.cli("launch", "web", "--template", "busybox", "-c", "restart.policy=sometimes")
    assert r.rc == 6
    assert "restart.policy" in r.err and "never, on-failure or always" in r.err
    r = berthd.cli("create", "web", "--template", "busybox", "-c", "boot.stop.timeout=0")
    assert r.rc == 6 and "boot.stop.timeout" in r.err
    assert berthd.lxc_names() == set()


def unit_exec_stop():
    """berthd.service's ExecStop as systemd runs it: `$$` is a literal `$`."""
    with open(os.path.join(SOURCE_DIR, "systemd/berthd.service")) as f:
        line = next(l for l in f if l.startswith("ExecStop="))
    argv = shlex.split(line[len("ExecStop="):].strip().replace("$$", "$"))
    assert argv[:2] == ["/bin/sh", "-c"], argv
    return argv


@pytest.mark.parametrize("jobs,stops", [
    ("", False),
    ("  7 berthd.service stop running\n", False),
    ("  9 poweroff.target start waiting\n  7 berthd.service stop running\n", True),
    (" 12 reboot.target start waiting\n", True),
])
def test_unit_exec_stop_stops_containers_only_when_the_host_shuts_down(berthd, tmp_path, jobs,
                                                                        stops):
    """The unit's own ExecStop with a `systemctl` that lists the given jobs: SIGPWR (containers
    stopped, berthd gone when it returns) only under a queued poweroff/reboot/halt/kexec."""
    launch(berthd, "web", "boot.stop.timeout=10")
    fake = tmp_path / "systemctl"
    fake.write_text("#!/bin/sh\n[ \"$1\" = list-jobs ] && printf '%s' \"$JOBS\"\n")
    fake.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/sbin:/usr/bin:/sbin:/bin", "MAINPID": str(berthd.proc.pid),
           "JOBS": jobs}
    stop = subprocess.Popen(unit_exec_stop(), env=env)

    def returned():
        berthd.proc.poll()  # Reaps berthd as systemd would: a zombie still answers `kill -0`.
        return stop.poll() is not None

    wait_for(returned, timeout=90, what="ExecStop to return")
    assert stop.returncode == 0
    if stops:
        assert berthd.proc.poll() == 0, berthd.log()  # gone before ExecStop returned
        assert berthd.lxc_state("web")[0] == "STOPPED"
    else:
        assert berthd.proc.poll() is None
        assert berthd.lxc_state("web")[0] == "RUNNING"
