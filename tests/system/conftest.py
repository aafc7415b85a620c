"""Shared fixtures of the system tier: a real berthd with its helper, real liblxc, real containers.

Run as root on a host where `lxc-create -t busybox` works. Paths come from CTest's environment
(BERTH_BIN_DIR, BERTH_SOURCE_DIR); nothing here is faked.
"""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

import pytest

BIN_DIR = os.environ.get("BERTH_BIN_DIR", os.path.join(os.path.dirname(__file__), "../../build/bin"))
SOURCE_DIR = os.environ.get("BERTH_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
BERTH = os.path.join(BIN_DIR, "berth")
BERTHD = os.path.join(BIN_DIR, "berthd")


def generate_stubs(out_dir):
    """Compiles berth's proto and the probe protos to Python, as a third-party client would."""
    protos = [os.path.join(SOURCE_DIR, "proto/berth/v1", f)
              for f in ("containers.proto", "events.proto", "lifecycle.proto", "profiles.proto",
                        "system.proto")]
    probes = [os.path.join(SOURCE_DIR, "tests/system/proto", f)
              for f in ("grpc_probe.proto", "reflection_probe.proto")]
    subprocess.run(["protoc", "-I", os.path.join(SOURCE_DIR, "proto"), "--python_out", out_dir]
                   + protos, check=True)
    subprocess.run(["protoc", "-I", os.path.join(SOURCE_DIR, "tests/system/proto"),
                    "--python_out", out_dir] + probes, check=True)
    sys.path.insert(0, out_dir)


_STUB_DIR = tempfile.mkdtemp(prefix="berth-stubs-")
generate_stubs(_STUB_DIR)

import grpc  # noqa: E402
import grpc_probe_pb2  # noqa: E402


def wait_for(predicate, timeout=20.0, what="condition"):
    """Waits until predicate() is truthy, checking every 20 ms; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


class Result:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return f"Result(rc={self.rc}, out={self.out!r}, err={self.err!r})"


class Daemon:
    """One berthd with its own state dir, socket and lxcpath under a short temp dir."""

    def __init__(self, root):
        self.root = root
        self.state_dir = os.path.join(root, "state")
        self.lxc_path = os.path.join(self.state_dir, "containers")
        self.socket = os.path.join(root, "berth.sock")
        self.db = os.path.join(self.state_dir, "berth.db")
        self.log_path = os.path.join(root, "berthd.log")
        self.proc = None

    def spawn(self, *extra):
        log = open(self.log_path, "ab")
        return subprocess.Popen(
            [BERTHD, "--socket", self.socket, "--state-dir", self.state_dir,
             "--log-level", "debug", *extra],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def start(self):
        self.proc = self.spawn()
        wait_for(lambda: self.health() == "SERVING" or self.proc.poll() is not None,
                 what="berthd to serve")
        assert self.proc.poll() is None, f"berthd exited early:\n{self.log()}"

    def health(self):
        try:
            with grpc.insecure_channel("unix:" + self.socket) as channel:
                check = channel.unary_unary(
                    "/grpc.health.v1.Health/Check",
                    request_serializer=grpc_probe_pb2.HealthCheckRequest.SerializeToString,
                    response_deserializer=grpc_probe_pb2.HealthCheckResponse.FromString)
                status = check(grpc_probe_pb2.HealthCheckRequest(), timeout=1)
                return grpc_probe_pb2.HealthCheckResponse.ServingStatus.Name(status.status)
        except grpc.RpcError:
            return None

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=timeout)
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        return rc

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def cli(self, *args, timeout=120, input=None):
        proc = subprocess.run([BERTH, "--socket", self.socket, *args], capture_output=True,
                              text=True, timeout=timeout, input=input)
        return Result(proc)

    def ok(self, *args, **kw):
        r = self.cli(*args, **kw)
        assert r.rc == 0, f"berth {' '.join(args)} failed: {r}"
        return r

    # What liblxc itself says, read with LXC's own tools.
    def lxc_state(self, name):
        """(state, init pid) as lxc-info reports them; (None, None) when LXC has no such container."""
        r = subprocess.run(["lxc-info", "-P", self.lxc_path, "-n", name, "-s", "-p"],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            return None, None
        fields = dict(line.split(":", 1) for line in r.stdout.splitlines() if ":" in line)
        pid = fields.get("PID", "0").strip()
        return fields["State"].strip(), int(pid) if pid.isdigit() else 0

    def lxc_names(self):
        if not os.path.isdir(self.lxc_path):
            return set()
        r = subprocess.run(["lxc-ls", "-P", self.lxc_path, "-1"], capture_output=True, text=True,
                           check=True, timeout=30)
        return set(r.stdout.split())

    def db_rows(self):
        """{name: phase} straight from SQLite, read-only."""
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            return {name: phase for name, phase in
                    con.execute("SELECT name, phase FROM containers ORDER BY name")}
        finally:
            con.close()

    def cleanup_containers(self):
        for name in self.lxc_names():
            subprocess.run(["lxc-stop", "-P", self.lxc_path, "-n", name, "-k"],
                           capture_output=True, timeout=60)
            subprocess.run(["lxc-destroy", "-P", self.lxc_path, "-n", name],
                           capture_output=True, timeout=60)


@pytest.fixture
def daemon_root():
    root = tempfile.mkdtemp(prefix="bt-", dir="/tmp")
    yield root
    shutil.rmtree(root, ignore_errors=True)
    # berthd makes liblxc's monitor FIFO for its lxcpath under /run/lxc/<lxcpath> and removes it
    # when it exits cleanly; a berthd killed by a test leaves it behind.
    shutil.rmtree("/run/lxc" + root, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keeps each phase's report on the test item, so fixtures can tell whether the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


@pytest.fixture
def berthd(request, daemon_root):
    d = Daemon(daemon_root)
    d.start()
    yield d
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed and os.path.exists(d.log_path):
        # CI keeps only what the run printed: berthd's own account of the failure goes with it.
        print(f"\n--- last lines of berthd's log ({d.log_path}) ---\n" + d.log()[-8000:])
    if d.proc and d.proc.poll() is None:
        d.stop(signal.SIGKILL)
    d.cleanup_containers()
