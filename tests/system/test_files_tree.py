"""berth file push -r / pull -r against real busybox containers: a tree's bytes, modes, owners,
mtimes, symbolic links, hard links and empty directories both ways (checked from inside the
container and on the way back); tar streams crafted to escape the destination (sent through the
gRPC API as a hostile client would) refused with nothing written outside it, also while a process
in the container swaps a directory for a symbolic link; errors; and a 10,000-file tree."""
import hashlib
import io
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import time

import grpc
import pytest

from conftest import BERTH, SOURCE_DIR, wait_for

_STUBS = tempfile.mkdtemp(prefix="berth-files-stubs-")
subprocess.run(["protoc", "-I", os.path.join(SOURCE_DIR, "proto"), "--python_out", _STUBS,
                os.path.join(SOURCE_DIR, "proto/berth/v1/files.proto")], check=True, timeout=60)
sys.path.insert(0, _STUBS)
from berth.v1 import files_pb2  # noqa: E402

HOST_ESCAPE = "/etc/berth-tree-escape"


def launch(berthd, name="web"):
    berthd.ok("launch", name, "--template", "busybox")
    return name


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def snapshot(root):
    """{relative path: ((type, content hash or link target), mode, uid, gid, mtime, hard-linked)}."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                what = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                what = ("dir", None)
            else:
                with open(path, "rb") as f:
                    what = ("file", sha256(f.read()))
            linked = stat.S_ISREG(st.st_mode) and st.st_nlink > 1
            mode = None if stat.S_ISLNK(st.st_mode) else stat.S_IMODE(st.st_mode)
            out[rel] = (what, mode, st.st_uid, st.st_gid, st.st_mtime_ns // 10**9, linked)
    return out


def make_tree(root):
    """A tree with what must survive: modes, owners, mtimes, links, an empty dir, binary data."""
    os.makedirs(os.path.join(root, "etc/conf.d"))
    os.makedirs(os.path.join(root, "empty"))
    os.makedirs(os.path.join(root, "private"))
    blob = os.urandom(5 * 1024 * 1024 + 3)
    with open(os.path.join(root, "bin.dat"), "wb") as f:
        f.write(blob)
    with open(os.path.join(root, "etc/conf.d/app.conf"), "w") as f:
        f.write("key = value\n")
    with open(os.path.join(root, "run.sh"), "w") as f:
        f.write("#!/bin/sh\necho hi\n")
    os.chmod(os.path.join(root, "run.sh"), 0o4755)
    os.chmod(os.path.join(root, "private"), 0o700)
    os.chmod(os.path.join(root, "empty"), 0o555)
    os.chown(os.path.join(root, "etc/conf.d/app.conf"), 1000, 100)
    os.chown(os.path.join(root, "private"), 33, 33)
    os.symlink("conf.d/app.conf", os.path.join(root, "etc/rel-link"))
    os.symlink("/etc/hostname", os.path.join(root, "abs-link"))
    os.link(os.path.join(root, "run.sh"), os.path.join(root, "run-again.sh"))
    for rel in ("bin.dat", "etc/conf.d/app.conf", "run.sh", "private", "etc"):
        os.utime(os.path.join(root, rel), (1600000000, 1600000000 + len(rel)))
    os.utime(os.path.join(root, "etc/rel-link"), (1500000000, 1500000000), follow_symlinks=False)
    return sha256(blob)


def test_round_trip_of_a_tree(berthd, tmp_path):
    launch(berthd)
    src = tmp_path / "src"
    blob_hash = make_tree(str(src))
    berthd.ok("file", "push", "-r", str(src), "web/mnt/app")  # /mnt/app does not exist yet
    # As the container sees it.
    inside = lambda *cmd: berthd.ok("exec", "web", "--", *cmd).out  # noqa: E731
    assert inside("sha256sum", "/mnt/app/bin.dat").split()[0] == blob_hash
    assert inside("cat", "/mnt/app/etc/rel-link") == "key = value\n"
    assert inside("readlink", "/mnt/app/abs-link") == "/etc/hostname\n"
    assert inside("stat", "-c", "%a:%u:%g:%Y", "/mnt/app/etc/conf.d/app.conf") == \
        "644:1000:100:1600000019\n"
    assert inside("stat", "-c", "%a:%u:%g", "/mnt/app/run.sh") == "4755:0:0\n"
    assert inside("stat", "-c", "%a:%u:%g:%Y", "/mnt/app/private") == "700:33:33:1600000007\n"
    assert inside("stat", "-c", "%a:%h", "/mnt/app/empty") == "555:2\n"
    assert inside("stat", "-c", "%i", "/mnt/app/run.sh") == inside("stat", "-c", "%i",
                                                                    "/mnt/app/run-again.sh")
    assert inside("ls", "-A", "/mnt/app/empty") == ""
    assert ".berth-tmp" not in inside("find", "/mnt/app")

    # And back: the local destination is created, everything is as it was.
    back = tmp_path / "back"
    berthd.ok("file", "pull", "-r", "web/mnt/app", str(back))
    assert snapshot(str(back)) == snapshot(str(src))
    assert os.readlink(back / "abs-link") == "/etc/hostname"

    # Pushing again over it replaces files and merges directories.
    (src / "etc/conf.d/app.conf").write_text("key = new\n")
    berthd.ok("exec", "web", "--", "touch", "/mnt/app/etc/extra")
    berthd.ok("file", "push", "-r", str(src), "web/mnt/app")
    assert inside("cat", "/mnt/app/etc/conf.d/app.conf") == "key = new\n"
    assert inside("ls", "/mnt/app/etc/extra") == "/mnt/app/etc/extra\n"


def test_stopped_container_and_special_files(berthd, tmp_path):
    launch(berthd)
    # A running container's /dev holds device nodes: they are left out, with a warning.
    r = berthd.ok("file", "pull", "-r", "web/dev", str(tmp_path / "dev"))
    assert "left out" in r.err and "null" in r.err
    for dirpath, dirnames, filenames in os.walk(tmp_path / "dev"):
        for name in filenames:
            mode = os.lstat(os.path.join(dirpath, name)).st_mode
            assert stat.S_ISREG(mode) or stat.S_ISLNK(mode), name
    berthd.ok("stop", "web")
    src = tmp_path / "src"
    (src / "a/b").mkdir(parents=True)
    (src / "a/b/f").write_bytes(b"cold\n")
    os.mkfifo(src / "fifo")
    r = berthd.ok("file", "push", "-r", str(src), "web/root/tree")
    assert "left out 1" in r.err and "fifo" in r.err
    back = tmp_path / "back"
    berthd.ok("file", "pull", "-r", "web/root/tree", str(back))
    assert (back / "a/b/f").read_bytes() == b"cold\n"
    assert sorted(os.listdir(back)) == ["a"]


def push_tar(berthd, tar_bytes, path, container="web", piece=64 * 1024):
    """Sends `tar_bytes` through PushTree as a client of our own making would."""
    def frames():
        yield files_pb2.PushTreeRequest(start=files_pb2.PushTreeStart(container=container, path=path))
        for i in range(0, len(tar_bytes), piece):
            yield files_pb2.PushTreeRequest(data=tar_bytes[i:i + piece])
    with grpc.insecure_channel("unix:" + berthd.socket) as channel:
        call = channel.stream_unary("/berth.v1.Files/PushTree",
                                    request_serializer=files_pb2.PushTreeRequest.SerializeToString,
                                    response_deserializer=files_pb2.PushTreeResponse.FromString)
        return call(frames(), timeout=60)


def tar_of(*members):
    """members: (TarInfo fields as a dict, data or None)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for fields, data in members:
            info = tarfile.TarInfo(fields.pop("name"))
            for key, value in fields.items():
                setattr(info, key, value)
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return buf.getvalue()


@pytest.fixture
def no_host_escape():
    assert not os.path.exists(HOST_ESCAPE), "left over from an earlier run"
    yield
    present = os.path.lexists(HOST_ESCAPE)
    if present:
        os.unlink(HOST_ESCAPE)
    assert not present, "a tree push wrote on the host"


ESCAPES = {
    "dotdot": [({"name": "../../../../../../etc/berth-tree-escape"}, b"x")],
    "absolute": [({"name": "/etc/berth-tree-escape"}, b"x")],
    "symlink then through it": [
        ({"name": "esc", "type": tarfile.SYMTYPE, "linkname": "/etc"}, None),
        ({"name": "esc/berth-tree-escape"}, b"x")],
    "relative symlink then through it": [
        ({"name": "up", "type": tarfile.SYMTYPE, "linkname": "../../../../../../../etc"}, None),
        ({"name": "up/berth-tree-escape"}, b"x")],
    "hard link outside": [
        ({"name": "berth-tree-escape", "type": tarfile.LNKTYPE,
          "linkname": "../../../../../../etc/passwd"}, None)],
    "device node": [({"name": "berth-tree-escape", "type": tarfile.CHRTYPE,
                      "devmajor": 1, "devminor": 3}, None)],
}


@pytest.mark.parametrize("case", sorted(ESCAPES))
def test_crafted_streams_are_refused(berthd, no_host_escape, case):
    launch(berthd)
    berthd.ok("exec", "web", "--", "mkdir", "-p", "/srv/dest")
    members = [({"name": "first"}, b"ok\n")] + [(dict(f), d) for f, d in ESCAPES[case]]
    with pytest.raises(grpc.RpcError) as err:
        push_tar(berthd, tar_of(*members), "/srv/dest")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
    details = err.value.details()
    assert "berth-tree-escape" in details, details  # the refused entry is named
    assert "entries were written before it" in details, details
    # Nothing outside the destination, in the container or on the host; the refused entry is not
    # inside it either.
    assert berthd.ok("exec", "web", "--", "sh", "-c",
                     "ls /etc/berth-tree-escape /berth-tree-escape 2>/dev/null; "
                     "ls /srv/dest/berth-tree-escape 2>/dev/null; true").out == ""
    assert berthd.ok("exec", "web", "--", "cat", "/srv/dest/first").out == "ok\n"


def test_symlink_swapped_in_mid_transfer(berthd, tmp_path, no_host_escape):
    """A process in the container keeps replacing /srv/t/d by a symbolic link to /etc while a tree
    with many entries under d is pushed: whatever happens, nothing lands in /etc (container's or
    host's)."""
    launch(berthd)
    berthd.ok("exec", "web", "--", "mkdir", "-p", "/srv/t/d")
    swapper = subprocess.Popen(
        [BERTH, "--socket", berthd.socket, "exec", "web", "--", "timeout", "60", "sh", "-c",
         "while true; do rm -rf /srv/t/d; ln -s /etc /srv/t/d; rm -f /srv/t/d; mkdir /srv/t/d; done"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        members = [({"name": f"d/berth-swap-{i}"}, b"x" * 100) for i in range(2000)]
        tar_bytes = tar_of(*members)
        for _ in range(3):
            try:
                push_tar(berthd, tar_bytes, "/srv/t", piece=4096)
            except grpc.RpcError as e:
                # Refused (a link where d was), or d vanished under us (INTERNAL, ENOENT): both
                # are fine outcomes of the race; the call ends either way and says what it left.
                assert "entries were written" in e.details() or "nothing was written" in \
                    e.details(), e.details()
    finally:
        swapper.kill()
        swapper.wait(timeout=30)
    assert berthd.ok("exec", "web", "--", "sh", "-c", "ls /etc | grep -c berth-swap; true").out \
        == "0\n"
    assert not [n for n in os.listdir("/etc") if n.startswith("berth-swap")]


def test_errors(berthd, tmp_path):
    launch(berthd)
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_bytes(b"x")
    r = berthd.cli("file", "push", "-r", str(src), "web/no/such/dir")
    assert r.rc == 3 and "create it first" in r.err, r
    passwd = berthd.ok("exec", "web", "--", "cat", "/etc/passwd").out
    r = berthd.cli("file", "push", "-r", str(src), "web/etc/passwd")
    assert r.rc == 5 and "is not a directory" in r.err, r
    assert berthd.ok("exec", "web", "--", "cat", "/etc/passwd").out == passwd
    r = berthd.cli("file", "push", "-r", str(src / "f"), "web/tmp/x")
    assert r.rc == 1 and "not a directory" in r.err, r
    r = berthd.cli("file", "push", "-r", str(tmp_path / "missing"), "web/tmp/x")
    assert r.rc == 1, r
    out = tmp_path / "out"
    r = berthd.cli("file", "pull", "-r", "web/no-such-dir", str(out))
    assert r.rc == 3 and "does not exist" in r.err, r
    r = berthd.cli("file", "pull", "-r", "web/etc/passwd", str(out))
    assert r.rc == 6 and "not a directory" in r.err, r
    r = berthd.cli("file", "pull", "-r", "ghost/etc", str(out))
    assert r.rc == 3, r
    assert not out.exists()  # nothing created locally when the source is bad
    r = berthd.cli("file", "push", "-r", str(src), "web/tmp/x", "--mode", "0644")
    assert r.rc == 2, r
    # A directory entry where the container has a file: FAILED_PRECONDITION, named.
    berthd.ok("exec", "web", "--", "mkdir", "-p", "/srv/m")
    berthd.ok("exec", "web", "--", "touch", "/srv/m/f")
    (src / "f").unlink()
    (src / "f").mkdir()
    (src / "f/inner").write_bytes(b"y")
    r = berthd.cli("file", "push", "-r", str(src), "web/srv/m")
    assert r.rc == 5 and '"f"' in r.err and "not a directory" in r.err, r


def test_ten_thousand_files(berthd, tmp_path):
    launch(berthd)
    src = tmp_path / "many"
    for d in range(100):
        (src / f"d{d:03}").mkdir(parents=True)
        for f in range(100):
            (src / f"d{d:03}/f{f:03}").write_bytes(b"%d/%d\n" % (d, f))
    t0 = time.monotonic()
    berthd.ok("file", "push", "-r", str(src), "web/mnt/many", timeout=300)
    push_s = time.monotonic() - t0
    assert berthd.ok("exec", "web", "--", "sh", "-c", "find /mnt/many -type f | wc -l").out \
        .strip() == "10000"
    assert berthd.ok("exec", "web", "--", "cat", "/mnt/many/d042/f017").out == "42/17\n"
    back = tmp_path / "back"
    t0 = time.monotonic()
    berthd.ok("file", "pull", "-r", "web/mnt/many", str(back), timeout=300)
    pull_s = time.monotonic() - t0
    assert snapshot(str(back)) == snapshot(str(src))
    print(f"10000 files: push {push_s:.2f} s, pull {pull_s:.2f} s")
