"""berth file push / pull against real busybox containers: bytes, mode and owner as the container
sees them, a 20 MiB round trip, stopped containers, and paths that try to leave the container's
root ("..", absolute symlinks) landing inside it, never on the host."""
import hashlib
import os
import subprocess

import pytest

from conftest import BERTH


def launch(berthd, name="web"):
    berthd.ok("launch", name, "--template", "busybox")
    return name


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@pytest.fixture
def host_escape_file():
    """The host path an escaping push would create; must never exist, removed if it does."""
    path = "/etc/berth-escape-test"
    assert not os.path.exists(path), "left over from an earlier run"
    yield path
    if os.path.exists(path):
        os.unlink(path)


def test_push_sets_bytes_mode_and_owner(berthd, tmp_path):
    launch(berthd)
    local = tmp_path / "motd"
    local.write_bytes(b"hello from the host\n")
    berthd.ok("file", "push", str(local), "web/etc/motd", "--mode", "0640",
              "--uid", "1000", "--gid", "100")
    assert berthd.ok("exec", "web", "--", "cat", "/etc/motd").out == "hello from the host\n"
    assert berthd.ok("exec", "web", "--", "stat", "-c", "%a:%u:%g", "/etc/motd").out == "640:1000:100\n"
    # Defaults: the local file's mode, root's ownership; pushing again replaces the file.
    local.write_bytes(b"second\n")
    os.chmod(local, 0o755)
    berthd.ok("file", "push", str(local), "web/etc/motd")
    assert berthd.ok("exec", "web", "--", "cat", "/etc/motd").out == "second\n"
    assert berthd.ok("exec", "web", "--", "stat", "-c", "%a:%u:%g", "/etc/motd").out == "755:0:0\n"
    # No temporary file is left next to it.
    assert ".berth-push" not in berthd.ok("exec", "web", "--", "ls", "-a", "/etc").out


def test_20_mib_binary_round_trip(berthd, tmp_path):
    launch(berthd)
    local = tmp_path / "blob"
    local.write_bytes(os.urandom(20 * 1024 * 1024))
    want = sha256_file(local)
    berthd.ok("file", "push", str(local), "web/tmp/blob", "--mode", "0600")
    inside = berthd.ok("exec", "web", "--", "sha256sum", "/tmp/blob").out.split()[0]
    assert inside == want
    back_dir = tmp_path / "back"
    back_dir.mkdir()
    berthd.ok("file", "pull", "web/tmp/blob", str(back_dir))  # a directory: keeps the base name
    assert sha256_file(back_dir / "blob") == want
    assert (os.stat(back_dir / "blob").st_mode & 0o777) == 0o600
    assert os.listdir(back_dir) == ["blob"]
    # "-" is stdout, binary-safe.
    proc = subprocess.run([BERTH, "--socket", berthd.socket, "file", "pull", "web/tmp/blob", "-"],
                          capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert hashlib.sha256(proc.stdout).hexdigest() == want


def test_stopped_container(berthd, tmp_path):
    berthd.ok("create", "cold", "--template", "busybox")
    local = tmp_path / "note"
    local.write_bytes(b"written while stopped\n")
    berthd.ok("file", "push", str(local), "cold/root/note", "--mode", "0604", "--uid", "7")
    out = tmp_path / "pulled"
    berthd.ok("file", "pull", "cold/root/note", str(out))
    assert out.read_bytes() == b"written while stopped\n"
    berthd.ok("start", "cold")
    assert berthd.ok("exec", "cold", "--", "cat", "/root/note").out == "written while stopped\n"
    assert berthd.ok("exec", "cold", "--", "stat", "-c", "%a:%u:%g", "/root/note").out == "604:7:0\n"


def test_dotdot_and_absolute_symlink_stay_inside(berthd, tmp_path, host_escape_file):
    launch(berthd)
    local = tmp_path / "payload"
    local.write_bytes(b"escape attempt\n")
    # An absolute symlink inside the container pointing at /etc: resolves to the container's /etc.
    berthd.ok("exec", "web", "--", "ln", "-s", "/etc", "/escape")
    berthd.ok("file", "push", str(local), "web/escape/berth-escape-test")
    assert not os.path.exists(host_escape_file)
    assert berthd.ok("exec", "web", "--", "cat", "/etc/berth-escape-test").out == "escape attempt\n"
    berthd.ok("exec", "web", "--", "rm", "/etc/berth-escape-test")
    # ".." past the root stops at the root.
    berthd.ok("file", "push", str(local), "web/../../../etc/berth-escape-test")
    assert not os.path.exists(host_escape_file)
    assert berthd.ok("exec", "web", "--", "cat", "/etc/berth-escape-test").out == "escape attempt\n"
    # Same for a stopped container (resolved in its rootfs directory on the host).
    berthd.ok("stop", "web")
    berthd.ok("file", "push", str(local), "web/escape/../../escape/berth-escape-test")
    assert not os.path.exists(host_escape_file)
    pulled = tmp_path / "again"
    berthd.ok("file", "pull", "web/../etc/berth-escape-test", str(pulled))
    assert pulled.read_bytes() == b"escape attempt\n"


def test_pull_through_symlink_reads_the_containers_file(berthd, tmp_path):
    launch(berthd)
    berthd.ok("exec", "web", "--", "sh", "-c", "echo inside-only > /etc/hostname")
    berthd.ok("exec", "web", "--", "ln", "-s", "/etc/hostname", "/host-link")
    out = tmp_path / "hostname"
    berthd.ok("file", "pull", "web/host-link", str(out))
    assert out.read_bytes() == b"inside-only\n"
    with open("/etc/hostname", "rb") as f:
        assert f.read() != b"inside-only\n"


def test_errors(berthd, tmp_path):
    launch(berthd)
    local = tmp_path / "f"
    local.write_bytes(b"x")
    r = berthd.cli("file", "push", str(local), "web/no/such/dir/f")
    assert r.rc == 3
    assert "/no/such/dir" in r.err and "create it first" in r.err
    r = berthd.cli("file", "pull", "web/no-such-file", str(tmp_path / "out"))
    assert r.rc == 3 and "does not exist" in r.err
    assert not (tmp_path / "out").exists()
    assert [p for p in os.listdir(tmp_path) if p.startswith("out")] == []
    r = berthd.cli("file", "pull", "web/etc", str(tmp_path / "out"))
    assert r.rc == 6 and "pull it with -r" in r.err
    r = berthd.cli("file", "push", str(local), "web/etc")
    assert r.rc == 6 and "is an existing directory" in r.err
    assert berthd.ok("exec", "web", "--", "sh", "-c", "test -d /etc && echo dir").out == "dir\n"
    r = berthd.cli("file", "push", str(local), "ghost/tmp/f")
    assert r.rc == 3
    r = berthd.cli("file", "push", str(tmp_path / "missing"), "web/tmp/f")
    assert r.rc == 1 and "missing" in r.err
    r = berthd.cli("file", "push", str(local))
    assert r.rc == 2
    r = berthd.cli("file", "push", str(local), "web/tmp/f", "--mode", "99")
    assert r.rc == 2
