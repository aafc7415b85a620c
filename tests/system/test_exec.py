"""berth exec / berth shell against real busybox containers: stdio kept apart, exit codes, stdin
EOF, signals, bulk data, an interactive PTY session, env/cwd/user and the error cases."""
import fcntl
import hashlib
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time

from conftest import BERTH


def launch(berthd, name="web"):
    berthd.ok("launch", name, "--template", "busybox")
    return name


def test_stdout_stderr_apart_and_exit_code(berthd):
    launch(berthd)
    r = berthd.cli("exec", "web", "--", "sh", "-c", "echo hi; echo err >&2; exit 3")
    assert r.rc == 3
    assert r.out == "hi\n"
    assert r.err == "err\n"


def test_stdin_forwarded_until_eof(berthd):
    launch(berthd)
    r = berthd.cli("exec", "web", "--", "cat", input="line one\nline two")
    assert r.rc == 0
    assert r.out == "line one\nline two"
    r = berthd.cli("exec", "web", "--", "wc", "-l", input="a\nb\nc\n")
    assert r.rc == 0 and r.out.strip() == "3"


def test_missing_command_is_127_with_a_message(berthd):
    launch(berthd)
    r = berthd.cli("exec", "web", "--", "no-such-command")
    assert r.rc == 127
    assert "no-such-command" in r.err and "not found" in r.err


def test_signal_killed_process_is_128_plus_n(berthd):
    launch(berthd)
    r = berthd.cli("exec", "web", "--", "sh", "-c", "kill -TERM $$")
    assert r.rc == 128 + signal.SIGTERM
    r = berthd.cli("exec", "web", "--", "sh", "-c", "kill -KILL $$")
    assert r.rc == 128 + signal.SIGKILL


def test_stopped_and_missing_containers(berthd):
    berthd.ok("create", "cold", "--template", "busybox")
    r = berthd.cli("exec", "cold", "--", "true")
    assert r.rc == 5
    assert "STOPPED" in r.err and "start it" in r.err
    r = berthd.cli("exec", "ghost", "--", "true")
    assert r.rc == 3
    assert "ghost" in r.err
    launch(berthd)
    r = berthd.cli("exec", "web", "--cwd", "relative", "--", "true")
    assert r.rc == 6 and "absolute" in r.err
    r = berthd.cli("exec", "web", "--env", "1BAD=x", "--", "true")
    assert r.rc == 6 and "1BAD" in r.err
    r = berthd.cli("exec", "web")
    assert r.rc == 2


def test_env_cwd_user(berthd):
    launch(berthd)
    r = berthd.cli("exec", "--env", "GREETING=hello world", "--cwd", "/tmp", "--user", "1000:1001",
                   "web", "--", "sh", "-c", 'echo "$GREETING"; pwd; id -u; id -g; echo $PATH')
    assert r.rc == 0, r
    lines = r.out.splitlines()
    assert lines[0] == "hello world"
    assert lines[1] == "/tmp"
    assert lines[2:4] == ["1000", "1001"]
    assert "/bin" in lines[4]
    # The daemon's environment does not leak in.
    r = berthd.ok("exec", "web", "--", "env")
    keys = {line.split("=", 1)[0] for line in r.out.splitlines()}
    assert "BERTH_BIN_DIR" not in keys and "PATH" in keys and "HOME" in keys


def test_100_mib_through_cat_unchanged(berthd, daemon_root):
    launch(berthd)
    data = os.urandom(100 * 1024 * 1024)
    src = os.path.join(daemon_root, "in.bin")
    with open(src, "wb") as f:
        f.write(data)
    with open(src, "rb") as stdin:
        proc = subprocess.run([BERTH, "--socket", berthd.socket, "exec", "web", "--", "cat"],
                              stdin=stdin, capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout) == len(data)
    assert hashlib.sha256(proc.stdout).digest() == hashlib.sha256(data).digest()


def test_client_killed_kills_the_process(berthd):
    launch(berthd)
    proc = subprocess.Popen([BERTH, "--socket", berthd.socket, "exec", "web", "--", "sh", "-c",
                             "echo started; exec sleep 1000"], stdout=subprocess.PIPE)
    assert proc.stdout.readline() == b"started\n"

    def sleeps():
        r = berthd.ok("exec", "web", "--", "sh", "-c", "pidof sleep || true")
        return r.out.split()

    assert len(sleeps()) == 1
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 20
    while sleeps() and time.monotonic() < deadline:
        select.select([], [], [], 0.1)
    assert sleeps() == []


_pending = {}  # fd -> bytes read but not yet matched


def read_until(fd, needle, timeout=20):
    """Reads from `fd` until `needle` shows up; returns what came up to and including it."""
    buf = _pending.pop(fd, b"")
    deadline = time.monotonic() + timeout
    while needle not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            _pending[fd] = buf
            raise AssertionError(f"did not see {needle!r}; got {buf!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                raise AssertionError(f"EOF before {needle!r}; got {buf!r}")
            buf += chunk
    end = buf.index(needle) + len(needle)
    _pending[fd] = buf[end:]
    return buf[:end]


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def test_interactive_pty_session(berthd):
    launch(berthd)
    master, slave = pty.openpty()
    set_size(slave, 30, 100)
    proc = subprocess.Popen([BERTH, "--socket", berthd.socket, "exec", "-t", "web", "--", "sh"],
                            stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    try:
        os.write(master, b"stty size; test -t 0 && test -t 1 && echo is-a-$((1))tty\n")
        out = read_until(master, b"30 100")
        read_until(master, b"is-a-1tty")
        # Resize: the local terminal changes, berth hears SIGWINCH and forwards it.
        set_size(master, 50, 132)
        proc.send_signal(signal.SIGWINCH)
        deadline = time.monotonic() + 20
        while True:
            os.write(master, b"stty size\n")
            try:
                read_until(master, b"50 132", timeout=1)
                break
            except AssertionError:
                assert time.monotonic() < deadline, "resize never reached the process"
        # Ctrl-C reaches the foreground process inside, not berth.
        os.write(master, b"sleep 1000\n")
        deadline = time.monotonic() + 20
        while not berthd.ok("exec", "web", "--", "sh", "-c", "pidof sleep || true").out.split():
            assert time.monotonic() < deadline, "sleep never started"
        os.write(master, b"\x03")
        os.write(master, b"echo after-$((6*7))\n")
        read_until(master, b"after-42")
        assert berthd.ok("exec", "web", "--", "sh", "-c", "pidof sleep || true").out.split() == []
        os.write(master, b"exit 7\n")
        assert proc.wait(timeout=20) == 7
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert out


def test_shell_is_a_login_shell_with_a_pty(berthd):
    launch(berthd)
    master, slave = pty.openpty()
    proc = subprocess.Popen([BERTH, "--socket", berthd.socket, "shell", "web"],
                            stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    try:
        os.write(master, b"echo home=$HOME user=$(id -u); test -t 0 && echo is-a-$((1))tty\n")
        read_until(master, b"home=/root user=0")
        read_until(master, b"is-a-1tty")
        os.write(master, b"exit\n")
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)


def test_berthd_killed_mid_session_is_a_lost_connection_and_the_container_runs(berthd):
    launch(berthd)
    state_before = berthd.lxc_state("web")
    proc = subprocess.Popen([BERTH, "--socket", berthd.socket, "exec", "web", "--", "sh", "-c",
                             "echo started; exec sleep 1000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline() == b"started\n"
    berthd.stop(signal.SIGKILL)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 7, err
    assert b"the connection to berthd was lost" in err, err
    assert b"the container keeps running" in err, err
    assert b"cannot reach" not in err, err
    assert berthd.lxc_state("web") == state_before
    berthd.start()
    assert berthd.ok("exec", "web", "--", "echo", "again").out == "again\n"
