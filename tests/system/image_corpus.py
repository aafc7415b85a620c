"""Generates image files for the image tests: a small valid root filesystem tarball, and a hostile
corpus of archives that try to write outside the image's directory, smuggle in device nodes, are
truncated or corrupt, or unpack to far more than they weigh.

Usable as a module (build_corpus, valid_rootfs_tar) or as a script:
    python3 image_corpus.py OUTDIR     # writes every archive of the corpus into OUTDIR
"""
import gzip
import io
import os
import sys
import tarfile

# What every escape below tries to create on the host; the tests check it never appears.
HOST_ESCAPE = "/etc/berth-image-escape"


def _info(name, kind=tarfile.REGTYPE, size=0, mode=0o644, **kw):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size
    info.mode = mode
    info.mtime = 1_700_000_000
    for key, value in kw.items():
        setattr(info, key, value)
    return info


def _tar(entries, compress=None):
    """entries: [(TarInfo, bytes or None)] -> archive bytes (plain, or gzip with compress='gz')."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    data = raw.getvalue()
    if compress == "gz":
        return gzip.compress(data, mtime=0)
    return data


def valid_rootfs_tar(marker=b"hello from the image\n"):
    """A tiny root filesystem (no init: enough to import, list and export)."""
    return _tar([
        (_info(".", tarfile.DIRTYPE, mode=0o755), None),
        (_info("etc", tarfile.DIRTYPE, mode=0o755), None),
        (_info("etc/marker", size=len(marker)), marker),
        (_info("bin", tarfile.DIRTYPE, mode=0o755), None),
        (_info("bin/sh", tarfile.SYMTYPE, linkname="busybox"), None),
    ])


class _Zeros(io.RawIOBase):
    """`size` zero bytes, read in chunks (a bomb's payload, never held in memory whole)."""

    def __init__(self, size):
        self.left = size

    def readable(self):
        return True

    def readinto(self, buf):
        n = min(len(buf), self.left)
        buf[:n] = bytes(n)
        self.left -= n
        return n


def bomb(size=300 << 20):
    """A gzip'd tar holding one file of `size` zero bytes: about 1000 times smaller than its
    contents."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=1, mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            tar.addfile(_info("zeros", size=size), io.BufferedReader(_Zeros(size), 1 << 20))
    return out.getvalue()


def _corrupt(data):
    """`data` with 200 bytes in its middle flipped."""
    return data[:40] + bytes(b ^ 0x5A for b in data[40:240]) + data[240:]


def build_corpus():
    """{name: (archive bytes, a word the error must contain)}."""
    payload = b"escaped\n"
    escape_rel = HOST_ESCAPE.lstrip("/")
    good = valid_rootfs_tar()
    corpus = {
        "dotdot": (_tar([
            (_info("etc", tarfile.DIRTYPE, mode=0o755), None),
            (_info("../../../../../../" + escape_rel, size=len(payload)), payload),
        ]), ".."),
        "absolute": (_tar([
            (_info(HOST_ESCAPE, size=len(payload)), payload),
        ]), "absolute"),
        "symlink_out_then_write_through": (_tar([
            (_info("evil", tarfile.SYMTYPE, linkname="/etc"), None),
            (_info("evil/" + os.path.basename(HOST_ESCAPE), size=len(payload)), payload),
        ]), "symbolic link"),
        "duplicate_rootfs_as_symlink": (_tar([
            (_info("rootfs", tarfile.DIRTYPE, mode=0o755), None),
            (_info("rootfs", tarfile.SYMTYPE, linkname="/"), None),
            (_info("rootfs/" + escape_rel, size=len(payload)), payload),
        ]), "rootfs"),
        "hardlink_out_absolute": (_tar([
            (_info("shadow", tarfile.LNKTYPE, linkname="/etc/shadow"), None),
        ]), "hard link"),
        "hardlink_out_dotdot": (_tar([
            (_info("shadow", tarfile.LNKTYPE, linkname="../../../../etc/shadow"), None),
        ]), "hard link"),
        "char_device": (_tar([
            (_info("dev", tarfile.DIRTYPE, mode=0o755), None),
            (_info("dev/mem", tarfile.CHRTYPE, devmajor=1, devminor=1, mode=0o666), None),
        ]), "device"),
        "block_device": (_tar([
            (_info("sda", tarfile.BLKTYPE, devmajor=8, devminor=0, mode=0o666), None),
        ]), "device"),
        "fifo": (_tar([
            (_info("pipe", tarfile.FIFOTYPE), None),
        ]), "FIFO"),
        "truncated": (_tar([
            (_info("etc", tarfile.DIRTYPE, mode=0o755), None),
            (_info("etc/big", size=64 << 10), os.urandom(64 << 10)),
        ], compress="gz")[: 20 << 10], "truncated"),
        "corrupt_gzip": (_corrupt(
            _tar([(_info("etc/big", size=64 << 10), os.urandom(64 << 10))], compress="gz")), ""),
        "not_an_archive": (b"this is not an image\n" * 100, "archive"),
        "bomb": (bomb(), "bomb"),
    }
    assert good  # the valid archive is built by the same code
    return corpus


if __name__ == "__main__":
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    for name, (data, _) in build_corpus().items():
        with open(os.path.join(out_dir, name + ".tar"), "wb") as f:
            f.write(data)
    with open(os.path.join(out_dir, "valid.tar"), "wb") as f:
        f.write(valid_rootfs_tar())
