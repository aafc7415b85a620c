"""Images against real berthd, liblxc and busybox containers: build from the host's busybox,
import (plain and compressed, with metadata), launch copy-on-write containers from an image and
exec in them, aliases, delete refused while in use, export then re-import to the same
fingerprint, a hostile corpus of archives (tests/system/image_corpus.py), and a full disk."""
import hashlib
import lzma
import os
import sqlite3
import subprocess
import tempfile

import pytest

from conftest import Daemon, wait_for
from image_corpus import HOST_ESCAPE, build_corpus, valid_rootfs_tar

EXIT_NOT_FOUND = 3
EXIT_ALREADY_EXISTS = 4
EXIT_FAILED_PRECONDITION = 5
EXIT_INVALID_ARGUMENT = 6
EXIT_RESOURCE_EXHAUSTED = 11


def image_rows(d):
    con = sqlite3.connect(f"file:{d.db}?mode=ro", uri=True)
    try:
        images = [r[0] for r in con.execute("SELECT fingerprint FROM images")]
        aliases = dict(con.execute("SELECT alias, fingerprint FROM image_aliases"))
        return images, aliases
    finally:
        con.close()


def image_dir_entries(d):
    path = os.path.join(d.state_dir, "images")
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def images_json(d):
    return d.ok("image", "list", "--format", "json").json()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


@pytest.fixture
def busybox_image(berthd):
    r = berthd.ok("image", "build", "busybox", "--alias", "busybox")
    assert "ready" in r.out
    [image] = images_json(berthd)
    assert image["aliases"] == ["busybox"]
    assert image["metadata"]["os"] == "busybox"
    return image


def test_build_launch_exec_copy_on_write(berthd, busybox_image):
    fp = busybox_image["fingerprint"]
    rootfs = os.path.join(berthd.state_dir, "images", fp, "rootfs")
    assert os.path.isfile(os.path.join(rootfs, "bin/busybox"))
    berthd.ok("launch", "web", "--image", "busybox")
    assert berthd.lxc_state("web")[0] == "RUNNING"
    # The LXC config holds the overlay contract exactly.
    with open(os.path.join(berthd.lxc_path, "web", "config")) as f:
        config = f.read()
    delta = os.path.join(berthd.lxc_path, "web", "delta")
    assert f"lxc.rootfs.path = overlay:{rootfs}:{delta}\n" in config
    assert "lxc.signal.halt = SIGUSR1\n" in config

    r = berthd.ok("exec", "web", "--", "sh", "-c", "echo written > /root/new; cat /etc/passwd")
    assert r.out.startswith("root:x:0:0")
    # The write went to the container's own layer; the shared image is untouched.
    with open(os.path.join(delta, "root", "new")) as f:
        assert f.read() == "written\n"
    assert not os.path.exists(os.path.join(rootfs, "root", "new"))

    # A second container from the same image sees the image, not the first one's writes.
    berthd.ok("launch", "db", "--image", fp[:12])
    r = berthd.cli("exec", "db", "--", "cat", "/root/new")
    assert r.rc != 0
    info = berthd.ok("info", "db", "--format", "json").json()
    assert info["source"]["image"]["image"] == fp

    # A clean stop works (busybox's init halts on SIGUSR1, which the image asked for).
    berthd.ok("stop", "web", "--timeout", "20")
    assert berthd.lxc_state("web")[0] == "STOPPED"
    berthd.ok("start", "web")
    r = berthd.ok("exec", "web", "--", "cat", "/root/new")
    assert r.out == "written\n"
    berthd.ok("delete", "--force", "web")
    berthd.ok("delete", "--force", "db")
    assert not os.path.exists(os.path.join(berthd.lxc_path, "web"))
    assert os.path.isdir(rootfs)


def test_delete_refused_while_in_use_then_allowed(berthd, busybox_image):
    fp = busybox_image["fingerprint"]
    berthd.ok("create", "c1", "--image", "busybox")
    berthd.ok("create", "c2", "--image", "busybox")
    r = berthd.cli("image", "delete", "busybox")
    assert r.rc == EXIT_FAILED_PRECONDITION, r
    assert '"c1"' in r.err and '"c2"' in r.err
    assert images_json(berthd)[0]["used_by"] == ["c1", "c2"]
    berthd.ok("delete", "c1")
    berthd.ok("delete", "c2")
    berthd.ok("image", "delete", fp[:16])
    assert image_rows(berthd) == ([], {})
    assert image_dir_entries(berthd) == []
    r = berthd.cli("launch", "c3", "--image", "busybox")
    assert r.rc == EXIT_NOT_FOUND, r
    assert "c3" not in berthd.lxc_names()


def test_aliases(berthd, busybox_image):
    fp = busybox_image["fingerprint"]
    berthd.ok("image", "alias", "add", "busybox", "bb/1.35")
    assert sorted(image_rows(berthd)[1]) == ["bb/1.35", "busybox"]
    r = berthd.cli("image", "alias", "add", fp[:12], "busybox")
    assert r.rc == EXIT_ALREADY_EXISTS and "busybox" in r.err, r
    for bad in ["-x", "a//b", "trailing/", "white space", "deadbeefcafe00", "x" * 129, "ä"]:
        r = berthd.cli("image", "alias", "add", "busybox", "--", bad)
        assert r.rc == EXIT_INVALID_ARGUMENT, (bad, r)
        assert "alias" in r.err
    berthd.ok("image", "alias", "remove", "busybox")
    assert image_rows(berthd)[1] == {"bb/1.35": fp}
    r = berthd.cli("image", "alias", "remove", "busybox")
    assert r.rc == EXIT_NOT_FOUND, r
    berthd.ok("launch", "web", "--image", "bb/1.35")
    r = berthd.cli("image", "info", "fffffffffffff")
    assert r.rc == EXIT_NOT_FOUND, r
    r = berthd.cli("image", "info", "abc")
    assert r.rc == EXIT_NOT_FOUND and "12 hex digits" in r.err, r


def test_export_reimport_same_fingerprint_and_compressed_import(berthd, busybox_image, tmp_path):
    fp = busybox_image["fingerprint"]
    out = tmp_path / "busybox.tar"
    berthd.ok("image", "export", "busybox", str(out))
    data = out.read_bytes()
    assert hashlib.sha256(data).hexdigest() == fp
    r = berthd.cli("image", "import", str(out), "--alias", "again")
    assert r.rc == EXIT_ALREADY_EXISTS and fp[:12] in r.err, r
    berthd.ok("image", "delete", "busybox")
    berthd.ok("image", "import", str(out), "--alias", "again")
    [image] = images_json(berthd)
    assert image["fingerprint"] == fp and image["aliases"] == ["again"]

    # xz-compressed, with metadata from a file and from --meta.
    xz = write(tmp_path / "rootfs.tar.xz", lzma.compress(data))
    meta = write(tmp_path / "metadata.yaml",
                 b"architecture: x86_64\nproperties:\n  os: busybox\n  release: \"1.35\"\n")
    berthd.ok("image", "import", str(xz), str(meta), "--meta", "release=test,variant=xz",
              "--alias", "busybox/xz")
    info = berthd.ok("image", "info", "busybox/xz", "--format", "json").json()
    assert info["fingerprint"] == hashlib.sha256(xz.read_bytes()).hexdigest()
    assert info["metadata"] == {"architecture": "x86_64", "os": "busybox", "release": "test",
                                "variant": "xz"}
    assert info["unpacked_size_bytes"] == image["unpacked_size_bytes"]
    berthd.ok("launch", "web", "--image", "busybox/xz")
    assert berthd.ok("exec", "web", "--", "echo", "ok").out == "ok\n"

    # Bad metadata and a duplicate alias fail before anything is stored.
    before = image_rows(berthd)
    r = berthd.cli("image", "import", str(xz), "--meta", "lxc.hook.pre-start=/bin/evil")
    assert r.rc == EXIT_INVALID_ARGUMENT and "lxc.hook.pre-start" in r.err, r
    r = berthd.cli("image", "import", str(out), "--alias", "again")
    assert r.rc == EXIT_ALREADY_EXISTS, r
    assert image_rows(berthd) == before
    assert not [e for e in image_dir_entries(berthd) if e.startswith(".tmp-")]


@pytest.mark.parametrize("case", sorted(build_corpus().keys()))
def test_hostile_corpus_is_refused_and_leaves_nothing(berthd, tmp_path, case):
    data, word = build_corpus()[case]
    assert not os.path.exists(HOST_ESCAPE)
    path = write(tmp_path / f"{case}.tar", data)
    r = berthd.cli("image", "import", str(path), "--alias", "hostile")
    assert r.rc not in (0, 1), r  # a clear code, not an internal error
    # Progress lines come first on stderr; the error is the last line.
    last = r.err.strip().splitlines()[-1]
    assert last.startswith("berth: ") and word.lower() in last.lower(), r
    assert not os.path.exists(HOST_ESCAPE)
    assert not os.path.exists("/etc/berth-image-escape")
    assert image_rows(berthd) == ([], {})
    assert image_dir_entries(berthd) == []
    assert berthd.health() == "SERVING"
    # The daemon still imports a good image afterwards.
    good = write(tmp_path / "good.tar", valid_rootfs_tar())
    berthd.ok("image", "import", str(good), "--alias", "good")


@pytest.fixture
def small_disk_daemon():
    """A berthd whose state dir is a 48 MiB tmpfs."""
    root = tempfile.mkdtemp(prefix="bti-", dir="/tmp")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", root], check=True,
                   timeout=30)
    d = Daemon(root)
    try:
        d.start()
        yield d
    finally:
        if d.proc and d.proc.poll() is None:
            d.stop()
        d.cleanup_containers()
        subprocess.run(["umount", "-l", root], timeout=30)
        os.rmdir(root)


def test_disk_full_during_import_leaves_nothing_and_recovers(small_disk_daemon, tmp_path):
    d = small_disk_daemon
    tarinfo_header = valid_rootfs_tar()  # noqa: F841 (built by the same code as below)
    import io
    import tarfile

    def rootfs_with(size):
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as tar:
            info = tarfile.TarInfo("blob")
            info.size = size
            tar.addfile(info, io.BytesIO(os.urandom(size)))
        return raw.getvalue()

    # Larger than the disk: the upload itself runs out of space.
    big = write(tmp_path / "big.tar", rootfs_with(64 << 20))
    r = d.cli("image", "import", str(big), "--alias", "big")
    assert r.rc == EXIT_RESOURCE_EXHAUSTED, r
    assert "space" in r.err
    assert image_rows(d) == ([], {})
    assert image_dir_entries(d) == []

    # Fits as a file, but not unpacked next to it: refused by the free-space check.
    mid = write(tmp_path / "mid.tar", rootfs_with(20 << 20))
    r = d.cli("image", "import", str(mid), "--alias", "mid")
    assert r.rc == EXIT_RESOURCE_EXHAUSTED, r
    assert "space" in r.err
    assert image_rows(d) == ([], {})
    assert image_dir_entries(d) == []
    assert d.health() == "SERVING"

    # With the space back (nothing was left behind), a small import works.
    small = write(tmp_path / "small.tar", rootfs_with(1 << 20))
    d.ok("image", "import", str(small), "--alias", "small")
    [fp] = image_rows(d)[0]
    assert image_dir_entries(d) == [fp]
