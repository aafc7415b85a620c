"""The Debian package and berthd under systemd-style supervision.

- the .deb (packaging/build-deb, built once per run) passes lintian without errors, installs with
  apt-get into a clean Debian 12 root made by debootstrap (cached, mounted as an overlay so each
  run starts clean), lays out its files, group and conffile, upgrades keeping the edited conffile,
  and purges without touching containers' data;
- the units pass `systemd-analyze verify`;
- socket activation for real: systemd-socket-activate holds the socket, the first `berth list`
  starts berthd, which takes the fd and answers; READY=1 only after reconciliation, then watchdog
  pings, STOPPING=1 on SIGTERM, and the socket file (systemd's) stays.
"""
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time

import pytest

from conftest import BERTH, BERTHD, BIN_DIR, SOURCE_DIR, wait_for

DEB_DIR = os.path.abspath(os.path.join(BIN_DIR, "..", "deb"))
TEST_ROOT = "/var/cache/berth-test-root/bookworm"
APT_ARCHIVES = "/var/cache/berth-test-root/archives"
# The fixtures build the package and a Debian root (the first time): minutes, not seconds.
pytestmark = pytest.mark.timeout(2100)


def run(*cmd, check=True, **kw):
    proc = subprocess.run(list(cmd), capture_output=True, text=True, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def deb():
    started = time.monotonic()
    out = run(os.path.join(SOURCE_DIR, "packaging/build-deb"), DEB_DIR, timeout=1800).stdout
    path = out.strip().splitlines()[-1]
    print(f"build-deb took {time.monotonic() - started:.1f}s")
    assert os.path.basename(path).startswith("berth_") and path.endswith("_amd64.deb")
    return path


@pytest.fixture
def root():
    """A fresh Debian 12 root: the cached debootstrap root under a throwaway overlay."""
    base = run(os.path.join(SOURCE_DIR, "packaging/make-test-root"), TEST_ROOT, timeout=1200)
    base = base.stdout.strip().splitlines()[-1]
    work = tempfile.mkdtemp(prefix="berth-root-", dir="/var/tmp")
    upper, scratch, merged = (os.path.join(work, d) for d in ("upper", "work", "merged"))
    for d in (upper, scratch, merged):
        os.mkdir(d)
    os.makedirs(APT_ARCHIVES + "/partial", exist_ok=True)
    mounts = []

    def mount(*args, target):
        run("mount", *args, target)
        mounts.append(target)

    try:
        mount("-t", "overlay", "overlay", "-o",
              f"lowerdir={base},upperdir={upper},workdir={scratch}", target=merged)
        mount("-t", "proc", "proc", target=merged + "/proc")
        mount("--bind", "/dev", target=merged + "/dev")
        # Downloaded dependencies are kept across runs: only the first run fetches them.
        mount("--bind", APT_ARCHIVES, target=merged + "/var/cache/apt/archives")
        yield merged
    finally:
        for target in reversed(mounts):
            subprocess.run(["umount", "-l", target], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def chroot(root, *cmd, check=True):
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive",
           "LC_ALL": "C"}
    return run("chroot", root, *cmd, check=check, env=env, timeout=900)


def repack_with_version(deb, version, out_dir):
    """The same package under a newer version: what an upgrade installs."""
    tree = tempfile.mkdtemp(prefix="berth-repack-", dir="/var/tmp")
    try:
        run("dpkg-deb", "-R", deb, tree)
        control = os.path.join(tree, "DEBIAN/control")
        with open(control) as f:
            text = f.read()
        with open(control, "w") as f:
            f.write(text.replace("Version: 0.1.0\n", f"Version: {version}\n"))
        out = os.path.join(out_dir, f"berth_{version}_amd64.deb")
        run("dpkg-deb", "-Zgzip", "-b", tree, out)
        return out
    finally:
        shutil.rmtree(tree, ignore_errors=True)


def test_lintian_finds_no_errors(deb):
    result = run("lintian", "--no-tag-display-limit", deb, check=False)
    errors = [line for line in result.stdout.splitlines() if line.startswith("E:")]
    assert errors == [], result.stdout


def test_package_installs_into_a_clean_debian_root_and_purges_keeping_containers(deb, root):
    shutil.copy(deb, root + "/tmp/")
    chroot(root, "apt-get", "update", "-qq")
    chroot(root, "apt-get", "install", "-y", "-qq", "--no-install-recommends",
           "/tmp/" + os.path.basename(deb))

    def mode(path):
        st = os.lstat(root + path)
        return stat.S_IMODE(st.st_mode), st.st_uid

    for exe in ("/usr/sbin/berthd", "/usr/bin/berth", "/usr/libexec/berth/berth-lxc-helper"):
        assert mode(exe) == (0o755, 0), exe
    for data in ("/lib/systemd/system/berthd.service", "/lib/systemd/system/berthd.socket",
                 "/usr/lib/sysusers.d/berth.conf", "/usr/lib/tmpfiles.d/berth.conf",
                 "/etc/berth/berthd.conf", "/usr/share/man/man8/berthd.8.gz",
                 "/usr/share/man/man1/berth.1.gz", "/usr/share/bash-completion/completions/berth",
                 "/usr/share/doc/berth/copyright"):
        assert mode(data) == (0o644, 0), data
    # shlibs Depends pulled in every library: the installed programs run in the clean root.
    assert chroot(root, "berthd", "--version").stdout.strip().endswith("0.1.0")
    assert "list" in chroot(root, "berth", "--help").stdout
    # The group from sysusers.d, the conffile, the units enabled the Debian way.
    with open(root + "/etc/group") as f:
        assert any(line.startswith("berth:") for line in f)
    with open(root + "/var/lib/dpkg/info/berth.conffiles") as f:
        assert "/etc/berth/berthd.conf" in f.read().split()
    assert os.path.islink(root + "/etc/systemd/system/sockets.target.wants/berthd.socket")
    assert os.path.islink(root + "/etc/systemd/system/multi-user.target.wants/berthd.service")
    # A config a user changed and containers' data stay through an upgrade and on remove; purge
    # takes config, not containers' data.
    with open(root + "/etc/berth/berthd.conf", "a") as f:
        f.write("log_level = debug\n")
    os.makedirs(root + "/var/lib/berth/containers/web/rootfs", exist_ok=True)
    with open(root + "/var/lib/berth/containers/web/config", "w") as f:
        f.write("lxc.uts.name = web\n")
    newer = repack_with_version(deb, "0.1.0+upgrade1", root + "/tmp")
    chroot(root, "apt-get", "install", "-y", "-qq", "--no-install-recommends",
           "/tmp/" + os.path.basename(newer))
    assert chroot(root, "dpkg-query", "-W", "-f=${Version}", "berth").stdout == "0.1.0+upgrade1"
    with open(root + "/etc/berth/berthd.conf") as f:
        assert "log_level = debug" in f.read()
    assert os.path.exists(root + "/var/lib/berth/containers/web/config")
    assert chroot(root, "berthd", "--version").returncode == 0
    chroot(root, "apt-get", "remove", "-y", "-qq", "berth")
    assert not os.path.exists(root + "/usr/sbin/berthd")
    with open(root + "/etc/berth/berthd.conf") as f:
        assert "log_level = debug" in f.read()
    chroot(root, "apt-get", "purge", "-y", "-qq", "berth")
    assert not os.path.exists(root + "/etc/berth/berthd.conf")
    status = chroot(root, "dpkg-query", "-W", "-f=${Status}", "berth", check=False)
    assert status.returncode != 0 or status.stdout.endswith("not-installed"), status.stdout
    with open(root + "/var/lib/berth/containers/web/config") as f:
        assert f.read() == "lxc.uts.name = web\n"


def test_units_pass_systemd_analyze_verify(tmp_path):
    for unit in ("berthd.service", "berthd.socket"):
        with open(os.path.join(SOURCE_DIR, "systemd", unit)) as f:
            text = f.read()
        # The built berthd stands in for the installed one.
        (tmp_path / unit).write_text(text.replace("/usr/sbin/berthd", BERTHD))
    result = run("systemd-analyze", "verify", "--man=no", str(tmp_path / "berthd.socket"),
                 str(tmp_path / "berthd.service"), check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "berthd" not in result.stderr, result.stderr


class NotifySocket:
    """What systemd reads: a datagram socket berthd's sd_notify writes to."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)

    def next(self, timeout=30):
        self.sock.settimeout(timeout)
        data = self.sock.recv(4096).decode()
        return dict(line.split("=", 1) for line in data.splitlines() if "=" in line)

    def until(self, key, timeout=30):
        """Messages up to and including the first one that sets `key`."""
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {key} within {timeout}s; got {seen}"
            seen.append(self.next(remaining))
            if key in seen[-1]:
                return seen

    def close(self):
        self.sock.close()


def test_socket_activation_readiness_and_stopping(daemon_root):
    sock = os.path.join(daemon_root, "berth.sock")
    state = os.path.join(daemon_root, "state")
    log_path = os.path.join(daemon_root, "berthd.log")
    notify = NotifySocket(os.path.join(daemon_root, "notify"))
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        ["systemd-socket-activate", "-l", sock, "-E", "NOTIFY_SOCKET=" + notify.path,
         "-E", "JOURNAL_STREAM=0:0", "-E", "WATCHDOG_USEC=200000", BERTHD, "--state-dir", state, "--socket", sock],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: os.path.exists(sock), what="systemd-socket-activate to bind")
        # Nothing runs berthd before the first client comes.
        assert os.readlink(f"/proc/{proc.pid}/exe") != os.path.realpath(BERTHD)
        assert not os.path.exists(state)

        listed = subprocess.run([BERTH, "--socket", sock, "list", "--format", "json"],
                                capture_output=True, text=True, timeout=60)
        assert listed.returncode == 0, listed
        assert json.loads(listed.stdout) == [], listed.stdout
        assert os.readlink(f"/proc/{proc.pid}/exe") == os.path.realpath(BERTHD)

        messages = notify.until("READY")
        with open(log_path, errors="replace") as f:
            text = f.read()
        # READY=1 after reconciliation: berthd logs "ready" only once Reconcile() returned.
        assert "berthd ready" in text, text
        assert "Socket activation" in text, text
        assert messages[-1]["READY"] == "1"
        assert messages[-1]["STATUS"].startswith("Serving 0 containers"), messages
        # Under the journal: sd-daemon priority prefixes, no timestamps.
        lines = [line for line in text.splitlines() if "[berthd]" in line]
        assert lines[0].startswith("<6>[berthd] berthd 0.1.0 starting"), lines
        assert all(line.startswith(("<6>", "<7>", "<4>")) for line in lines), lines

        # The watchdog pings (from executor tasks) every 100 ms once ready.
        assert "WATCHDOG" not in "".join(str(m) for m in messages[:-1]), messages
        pings = notify.until("WATCHDOG")
        assert pings[-1]["WATCHDOG"] == "1"
        notify.until("WATCHDOG")

        proc.send_signal(signal.SIGTERM)
        stopping = notify.until("STOPPING")
        assert stopping[-1]["STOPPING"] == "1"
        assert proc.wait(timeout=30) == 0
        # The socket file is systemd's: berthd leaves it in place.
        assert stat.S_ISSOCK(os.stat(sock).st_mode)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        notify.close()


def test_upgrade_restarts_berthd_and_no_container_stops(deb, root, daemon_root):
    """An upgrade as systemd performs it: the maintainer scripts never stop berthd before the
    upgrade and restart it after (dh_installsystemd --restart-after-upgrade); with KillMode=process
    that restart is a SIGTERM to berthd alone. The installed berthd (run from the root on this
    host's liblxc) keeps a container through the upgrade and the restart onto the new binary."""
    shutil.copy(deb, root + "/tmp/")
    chroot(root, "apt-get", "install", "-y", "-qq", "--no-install-recommends",
           "/tmp/" + os.path.basename(deb))
    with open(root + "/var/lib/dpkg/info/berth.prerm") as f:
        prerm = f.read()
    with open(root + "/var/lib/dpkg/info/berth.postinst") as f:
        postinst = f.read()
    lines = prerm.splitlines()
    stops = [i for i, line in enumerate(lines) if "deb-systemd-invoke stop" in line]
    assert stops, prerm
    for i in stops:  # Only a removal stops berthd, never an upgrade.
        assert '"$1" = remove' in lines[i - 1], prerm
    assert "_dh_action=restart" in postinst and "berthd.service" in postinst, postinst

    berthd_bin = root + "/usr/sbin/berthd"
    berth_bin = root + "/usr/bin/berth"
    sock = os.path.join(daemon_root, "berth.sock")
    state = os.path.join(daemon_root, "state")
    log = open(os.path.join(daemon_root, "berthd.log"), "ab")

    def start_installed_berthd():
        proc = subprocess.Popen(
            [berthd_bin, "--socket", sock, "--state-dir", state,
             "--helper", root + "/usr/libexec/berth/berth-lxc-helper"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(lambda: run(berth_bin, "--socket", sock, "list", check=False,
                             timeout=30).returncode == 0 or proc.poll() is not None,
                 what="the installed berthd to serve")
        assert proc.poll() is None, "the installed berthd exited"
        return proc

    def listing():
        out = run(berth_bin, "--socket", sock, "list", "--format", "json", timeout=30).stdout
        return {c["name"]: (c["status"]["state"], c["status"]["init_pid"]) for c in json.loads(out)}

    proc = start_installed_berthd()
    try:
        run(berth_bin, "--socket", sock, "launch", "web", "--template", "busybox", timeout=120)
        before = listing()
        assert before["web"][0] == "RUNNING"

        newer = repack_with_version(deb, "0.1.0+upgrade2", root + "/tmp")
        chroot(root, "apt-get", "install", "-y", "-qq", "--no-install-recommends",
               "/tmp/" + os.path.basename(newer))
        # dpkg replaced the binary under the running daemon; the container did not notice.
        assert os.readlink(f"/proc/{proc.pid}/exe").endswith("(deleted)")
        assert listing() == before

        proc.send_signal(signal.SIGTERM)  # systemd's restart with KillMode=process
        assert proc.wait(timeout=60) == 0
        proc = start_installed_berthd()
        assert not os.readlink(f"/proc/{proc.pid}/exe").endswith("(deleted)")
        assert listing() == before
        pid = before["web"][1]
        with open(f"/proc/{pid}/comm") as f:
            assert f.read().strip() == "init"
    finally:
        subprocess.run(["lxc-stop", "-P", state + "/containers", "-n", "web", "-k"],
                       capture_output=True, timeout=60)
        subprocess.run(["lxc-destroy", "-P", state + "/containers", "-n", "web"],
                       capture_output=True, timeout=60)
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        log.close()
