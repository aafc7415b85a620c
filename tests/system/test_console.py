"""berth console against real busybox containers, driven through a real pseudo-terminal: type a
command on the console and see its output, Ctrl-a q detaches (exit 0, container still running),
resizes reach the console, one client at a time, --show-log (running and stopped), the errors,
a berthd that goes away mid-session, and a console after a berthd restart."""
import fcntl
import os
import pty
import random
import select
import signal
import struct
import subprocess
import termios
import time

import pytest

from conftest import BERTH, wait_for


def launch(berthd, name="web"):
    berthd.ok("launch", name, "--template", "busybox")
    return name


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class Terminal:
    """`berth console ...` on a fresh pseudo-terminal; every read is bounded by a deadline."""

    def __init__(self, berthd, *args, rows=30, cols=100):
        self.master, slave = pty.openpty()
        set_size(slave, rows, cols)
        self.proc = subprocess.Popen([BERTH, "--socket", berthd.socket, "console", *args],
                                     stdin=slave, stdout=slave, stderr=slave,
                                     start_new_session=True)
        os.close(slave)
        self.buf = b""

    def read_until(self, needle, timeout=20):
        """Reads until `needle` shows up; returns everything up to and including it."""
        deadline = time.monotonic() + timeout
        while needle not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"did not see {needle!r}; got {self.buf[-2000:]!r}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # EIO: berth exited and closed the terminal
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"EOF before {needle!r}; got {self.buf[-2000:]!r}")
                self.buf += chunk
        end = self.buf.index(needle) + len(needle)
        seen, self.buf = self.buf[:end], self.buf[end:]
        return seen

    def write(self, data):
        os.write(self.master, data)

    def run(self, command, marker, timeout=20):
        """Types `command` on the console until `marker` comes back (the console may still be
        at busybox's "Please press Enter" prompt, which eats the first line)."""
        deadline = time.monotonic() + timeout
        while True:
            self.write(command)
            try:
                return self.read_until(marker, timeout=2)
            except AssertionError:
                if time.monotonic() > deadline:
                    raise

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=20)
        os.close(self.master)


@pytest.fixture
def terminals():
    opened = []
    yield opened
    for t in opened:
        t.close()


def attach(berthd, terminals, name="web", **kw):
    t = Terminal(berthd, name, **kw)
    terminals.append(t)
    t.read_until(b"Ctrl-a q detaches")
    return t


def test_type_a_command_see_its_output_and_detach(berthd, terminals):
    launch(berthd)
    state, pid = berthd.lxc_state("web")
    assert state == "RUNNING"
    t = attach(berthd, terminals)
    n = random.randrange(10**6, 10**7)
    # The shell expands $((...)): the marker comes back from the container, not from the echo
    # of what was typed.
    t.run(f"echo marker-$(({n}+1))\r".encode(), f"marker-{n + 1}".encode())
    # /dev/console really is the session's terminal: the shell inside says so.
    t.run(b"tty; echo tty-$((6*7))\r", b"tty-42")
    t.write(b"\x01q")
    assert t.proc.wait(timeout=20) == 0
    t.read_until(b"detached")
    # The container runs on, with the same init.
    assert berthd.lxc_state("web") == ("RUNNING", pid)
    assert berthd.ok("info", "web", "--format", "json").json()["status"]["state"] == "RUNNING"


def test_resize_reaches_the_console(berthd, terminals):
    launch(berthd)
    t = attach(berthd, terminals, rows=30, cols=100)
    t.run(b"stty size\r", b"30 100")
    set_size(t.master, 50, 132)
    t.proc.send_signal(signal.SIGWINCH)
    t.run(b"stty size\r", b"50 132")
    t.write(b"\x01q")
    assert t.proc.wait(timeout=20) == 0


def test_ctrl_a_a_sends_a_literal_ctrl_a(berthd, terminals):
    launch(berthd)
    t = attach(berthd, terminals)
    t.run(b"echo ready-$((1+1))\r", b"ready-2")
    # A literal Ctrl-a (0x01) read by `od` inside: printed as octal 001. Typed only once od
    # runs: the shell's line editor would take Ctrl-a as "beginning of line".
    t.write(b"od -c\r")
    wait_for(lambda: berthd.ok("exec", "web", "--", "sh", "-c", "pidof od || true").out.split(),
             what="od to run")
    t.write(b"\x01a\r\x04")
    t.read_until(b"001")
    t.write(b"\x01q")
    assert t.proc.wait(timeout=20) == 0


def test_one_client_at_a_time(berthd, terminals):
    launch(berthd)
    first = attach(berthd, terminals)
    r = berthd.cli("console", "web", timeout=30)
    assert r.rc == 5, r
    assert "in use" in r.err
    first.write(b"\x01q")
    assert first.proc.wait(timeout=20) == 0
    # Once the first detached, the console is free again.
    second = attach(berthd, terminals)
    second.run(b"echo again-$((2+3))\r", b"again-5")
    second.write(b"\x01q")
    assert second.proc.wait(timeout=20) == 0


def test_show_log_running_and_stopped(berthd, terminals):
    launch(berthd)
    t = attach(berthd, terminals)
    n = random.randrange(10**6, 10**7)
    t.run(f"echo logged-$(({n}*2))\r".encode(), f"logged-{n * 2}".encode())
    t.write(b"\x01q")
    assert t.proc.wait(timeout=20) == 0
    # What the console printed is in its log, boot output included (busybox's init prompt).
    r = berthd.ok("console", "web", "--show-log")
    assert f"logged-{n * 2}" in r.out
    assert "Please press Enter to activate this console" in r.out
    log_file = os.path.join(berthd.lxc_path, "web", "console.log")
    with open(log_file, errors="replace") as f:
        assert f"logged-{n * 2}" in f.read()
    # Also for a stopped container.
    berthd.ok("stop", "web", "--force")
    assert berthd.lxc_state("web")[0] == "STOPPED"
    r = berthd.ok("console", "web", "--show-log")
    assert f"logged-{n * 2}" in r.out
    # A created, never started container has printed nothing.
    berthd.ok("create", "fresh", "--template", "busybox")
    r = berthd.ok("console", "fresh", "--show-log")
    assert r.out == ""


def test_show_log_is_bounded(berthd):
    launch(berthd)
    # 200 KiB of console output (written from inside, straight to /dev/console).
    berthd.ok("exec", "web", "--", "sh", "-c",
              "i=0; while [ $i -lt 2048 ]; do "
              "printf '%099d\\n' $i > /dev/console; i=$((i+1)); done; echo end-of-flood > /dev/console")
    log_file = os.path.join(berthd.lxc_path, "web", "console.log")
    wait_for(lambda: b"end-of-flood" in open(log_file, "rb").read(), what="the flood in the log")
    r = subprocess.run([BERTH, "--socket", berthd.socket, "console", "web", "--show-log"],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout) == 64 * 1024
    assert r.stdout.rstrip().endswith(b"end-of-flood")


def test_stopped_and_missing_containers(berthd):
    berthd.ok("create", "cold", "--template", "busybox")
    r = berthd.cli("console", "cold", timeout=30)
    assert r.rc == 5, r
    assert "STOPPED" in r.err and "berth start cold" in r.err
    r = berthd.cli("console", "ghost", timeout=30)
    assert r.rc == 3, r
    assert "ghost" in r.err
    r = berthd.cli("console", "ghost", "--show-log", timeout=30)
    assert r.rc == 3, r
    r = berthd.cli("console", "Bad_Name", timeout=30)
    assert r.rc == 6, r
    r = berthd.cli("console", timeout=30)
    assert r.rc == 2
    r = berthd.cli("console", "a", "b", timeout=30)
    assert r.rc == 2


def test_berthd_going_away_mid_session(berthd, terminals):
    launch(berthd)
    _, pid = berthd.lxc_state("web")
    t = attach(berthd, terminals)
    t.run(b"echo up-$((3*3))\r", b"up-9")
    berthd.stop(signal.SIGKILL)
    assert t.proc.wait(timeout=30) == 7
    t.read_until(b"connection to berthd was lost")
    assert b"cannot reach" not in t.buf
    assert berthd.lxc_state("web") == ("RUNNING", pid)


def test_console_after_a_berthd_restart(berthd, terminals):
    launch(berthd)
    _, pid = berthd.lxc_state("web")
    berthd.stop()
    berthd.start()
    assert berthd.lxc_state("web") == ("RUNNING", pid)
    t = attach(berthd, terminals)
    t.run(b"echo after-restart-$((5*5))\r", b"after-restart-25")
    t.write(b"\x01q")
    assert t.proc.wait(timeout=20) == 0


def test_container_stopping_ends_the_session(berthd, terminals):
    launch(berthd)
    t = attach(berthd, terminals)
    t.run(b"echo alive-$((4*4))\r", b"alive-16")
    berthd.ok("stop", "web", "--force")
    assert t.proc.wait(timeout=30) == 0
    t.read_until(b"closed")
