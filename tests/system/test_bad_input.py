"""Bad input gets a clear sentence, a distinct exit code, and leaves nothing behind: no row in the
database, no directory in the lxcpath."""
import os
import subprocess

import pytest

BAD_NAMES = ["../x", "a/b", "", "a\nb", "a\tb", "-web", "web-", "123", "x" * 64, "a b", "a.b",
             "web\nlxc.hook.pre-start = /bin/touch /tmp/pwned"]


def assert_nothing_created(berthd):
    assert berthd.db_rows() == {}
    assert os.listdir(berthd.lxc_path) == []


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names_are_refused_and_create_nothing(berthd, name):
    r = berthd.cli("launch", "--template", "busybox", "--", name)  # "--": "-web" is no option.
    assert r.rc == 6, r
    assert r.err.startswith("berth: invalid container name")
    assert "1-63 letters, digits and '-'" in r.err
    assert r.err.count("\n") == 1  # One sentence, even for a name with a newline in it.
    assert_nothing_created(berthd)


def test_control_characters_in_labels_and_template_args_are_refused(berthd):
    r = berthd.cli("launch", "web", "--template", "busybox", "-l", "k=v\nlxc.hook.start=/x")
    assert r.rc == 6 and "control character" in r.err, r
    r = berthd.cli("launch", "web", "--template", "busybox", "--template-arg", "a\nb")
    assert r.rc == 6 and "control character" in r.err, r
    r = berthd.cli("launch", "web", "--template", "../busybox")
    assert r.rc == 6 and "template" in r.err, r
    r = berthd.cli("launch", "web", "--template", "nosuchtemplate")
    assert r.rc == 6 and "nosuchtemplate" in r.err, r
    r = berthd.cli("launch", "web", "--template", "busybox", "-c", "limits.memroy=1GiB")
    assert r.rc == 6 and '"limits.memroy"' in r.err, r
    r = berthd.cli("launch", "web", "--template", "busybox", "-c",
                   "raw.lxc=lxc.cgroup.cpu.shares = 2\nlxc.hook.start = /bin/sh")
    assert r.rc == 6 and "lxc.hook.start" in r.err, r
    assert_nothing_created(berthd)


def test_unknown_names_duplicates_and_wrong_states(berthd):
    for args in (["info", "ghost"], ["start", "ghost"], ["stop", "ghost"], ["delete", "ghost"],
                 ["rename", "ghost", "g2"], ["pause", "ghost"]):
        r = berthd.cli(*args)
        assert r.rc == 3 and 'container "ghost" not found' in r.err, (args, r)

    berthd.ok("launch", "web", "--template", "busybox")
    r = berthd.cli("create", "web", "--template", "busybox")
    assert r.rc == 4 and '"web" already exists' in r.err, r
    r = berthd.cli("start", "web")
    assert r.rc == 5 and "RUNNING" in r.err, r
    r = berthd.cli("rename", "web", "web2")
    assert r.rc == 5 and "RUNNING" in r.err and "stop it" in r.err, r
    r = berthd.cli("resume", "web")
    assert r.rc == 5 and "RUNNING" in r.err, r
    berthd.ok("stop", "web", "--force")
    r = berthd.cli("stop", "web")
    assert r.rc == 5 and "STOPPED" in r.err, r
    r = berthd.cli("pause", "web")
    assert r.rc == 5 and "STOPPED" in r.err, r
    assert berthd.db_rows() == {"web": 0}
    assert berthd.lxc_names() == {"web"}


def test_usage_errors_exit_2(berthd):
    r = berthd.cli("launch", "web")  # No --template.
    assert r.rc == 2 and r.err.startswith("berth: "), r
    r = berthd.cli("launch", "web", "--template", "busybox", "-l", "novalue")
    assert r.rc == 2, r
    r = berthd.cli("frobnicate")
    assert r.rc == 2, r


def test_unreachable_daemon_exit_7(daemon_root):
    import conftest
    r = subprocess.run([conftest.BERTH, "--socket", os.path.join(daemon_root, "none.sock"),
                        "list"], capture_output=True, text=True)
    assert r.returncode == 7
    assert "cannot reach berthd" in r.stderr and "Is berthd running?" in r.stderr


def test_liblxc_failure_shows_the_lxc_log_error_lines(berthd):
    berthd.ok("create", "web", "--template", "busybox")
    # Break the container the way a bad image would: its init is gone.
    os.remove(os.path.join(berthd.lxc_path, "web", "rootfs", "sbin", "init"))
    r = berthd.cli("start", "web")
    assert r.rc == 1, r
    assert 'cannot start container "web"' in r.err
    assert "ERROR" in r.err, r  # The lines liblxc wrote to the container's lxc.log.
    # Nothing changed for berth: the container is still defined and stopped.
    assert berthd.db_rows() == {"web": 0}
    assert berthd.lxc_state("web")[0] == "STOPPED"


def test_failed_template_leaves_no_row_and_no_directory(berthd):
    # The busybox template fails midway when told to use a busybox that does not exist.
    r = berthd.cli("create", "web", "--template", "busybox",
                   "--template-arg=--busybox-path=/nonexistent/busybox")
    assert r.rc != 0, r
    assert 'cannot create container "web"' in r.err, r
    assert_nothing_created(berthd)
    berthd.ok("create", "web", "--template", "busybox")  # The name is free again.
