"""Remote control over TCP with mutual TLS, against a real berthd on loopback: enrolment with a
join token, every kind of CLI command through a remote (exec and file push included), the
handshake matrix (no certificate, unknown, expired, revoked, reused or expired token, a second
server posing as the first), revocation of a connected client, and the readonly role."""
import datetime
import os
import re
import sqlite3
import stat
import subprocess
import sys
import tempfile

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import BERTH, SOURCE_DIR, Daemon, Result, wait_for

_STUBS = tempfile.mkdtemp(prefix="berth-trust-stubs-")
subprocess.run(["protoc", "-I", os.path.join(SOURCE_DIR, "proto"), "--python_out", _STUBS,
                "--descriptor_set_out", os.path.join(_STUBS, "all.pb"), "--include_imports"]
               + [os.path.join(SOURCE_DIR, "proto/berth/v1", f)
                  for f in sorted(os.listdir(os.path.join(SOURCE_DIR, "proto/berth/v1")))
                  if f.endswith(".proto")], check=True, timeout=60)
sys.path.insert(0, _STUBS)
from berth.v1 import trust_pb2  # noqa: E402
from google.protobuf import descriptor_pb2  # noqa: E402

# The RPCs a readonly client may make (daemon/api/src/authorization.cc); everything else is admin.
READONLY = {
    "/berth.v1.Containers/GetContainer", "/berth.v1.Containers/ListContainers",
    "/berth.v1.Lifecycle/WaitContainer", "/berth.v1.System/GetVersion",
    "/berth.v1.System/GetHostInfo", "/berth.v1.System/ListConfigKeys",
    "/berth.v1.Events/Subscribe", "/berth.v1.Trust/ListTrustedClients",
    "/berth.v1.Images/ListImages", "/berth.v1.Images/GetImage",
    "/berth.v1.Snapshots/ListSnapshots", "/berth.v1.Profiles/GetProfile",
    "/berth.v1.Profiles/ListProfiles", "/berth.v1.Profiles/GetExpandedConfig",
}


class RemoteDaemon(Daemon):
    """A berthd that also listens on 127.0.0.1 with mutual TLS (a port the kernel picks)."""

    def start(self):
        self.proc = self.spawn("--listen-tcp", "127.0.0.1:0")
        wait_for(lambda: self.health() == "SERVING" or self.proc.poll() is not None,
                 what="berthd to serve")
        assert self.proc.poll() is None, f"berthd exited early:\n{self.log()}"
        match = wait_for(lambda: re.search(r"Remote control on .*\(port (\d+)\)", self.log()),
                         what="the remote listener's port in berthd's log")
        self.port = int(match.group(1))
        self.address = f"127.0.0.1:{self.port}"
        with open(os.path.join(self.state_dir, "server.crt"), "rb") as f:
            self.server_cert = f.read()

    def token(self, name, *extra):
        return self.ok("config", "trust", "add-token", name, *extra).out.strip()


def _start(root):
    d = RemoteDaemon(root)
    d.start()
    return d


@pytest.fixture
def remote(request):
    # A root of its own, so a test may also use the plain `berthd` fixture beside it.
    root = tempfile.mkdtemp(prefix="bt-", dir="/tmp")
    d = _start(root)
    yield d
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(f"\n--- last lines of berthd's log ({d.log_path}) ---\n" + d.log()[-8000:])
    d.stop()
    d.cleanup_containers()
    subprocess.run(["rm", "-rf", root, "/run/lxc" + root], timeout=60)


@pytest.fixture
def client_home():
    """A client's own config dir (XDG_CONFIG_HOME) and the environment that points berth at it."""
    home = tempfile.mkdtemp(prefix="bt-home-")
    env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(home, "config"), HOME=home)
    env.pop("BERTH_SOCKET", None)
    yield env
    subprocess.run(["rm", "-rf", home], timeout=30)


def berth(env, *args, timeout=60, input=None):
    return Result(subprocess.run([BERTH, *args], capture_output=True, text=True, env=env,
                                 timeout=timeout, input=input))


def make_cert(cn="probe", not_before=None, not_after=None):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - datetime.timedelta(minutes=5))
            .not_valid_after(not_after or now + datetime.timedelta(days=30))
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem, cert.public_bytes(serialization.Encoding.PEM), \
        cert.fingerprint(hashes.SHA256()).hex()


def tls_channel(d, key_pem=None, cert_pem=None):
    creds = grpc.ssl_channel_credentials(root_certificates=d.server_cert, private_key=key_pem,
                                         certificate_chain=cert_pem)
    return grpc.secure_channel(d.address, creds,
                               options=[("grpc.ssl_target_name_override", "berthd")])


def call(channel, method, request=b"", timeout=10):
    """One unary call with raw bytes in and out (the request's contents do not matter to auth)."""
    stub = channel.unary_unary(method)
    return stub(request if isinstance(request, bytes) else request.SerializeToString(),
                timeout=timeout)


def enroll(channel, token):
    secret = token.split(".")[1]
    raw = call(channel, "/berth.v1.Trust/Enroll", trust_pb2.EnrollRequest(secret=secret))
    return trust_pb2.EnrollResponse.FromString(raw)


def trusted(d):
    con = sqlite3.connect(f"file:{d.db}?mode=ro", uri=True)
    try:
        return {fp: (name, role) for fp, name, role in
                con.execute("SELECT fingerprint, name, role FROM trusted_clients")}
    finally:
        con.close()


def code_of(fn):
    with pytest.raises(grpc.RpcError) as e:
        fn()
    return e.value.code(), e.value.details() or ""


# ---- Enrolment and the CLI through a remote ----

def test_server_key_is_created_private_and_listener_is_off_by_default(berthd, remote):
    for name in ("server.key", "server.crt"):
        mode = stat.S_IMODE(os.stat(os.path.join(remote.state_dir, name)).st_mode)
        assert mode == 0o600, (name, oct(mode))
    # The plain fixture's berthd has no listener and no key.
    assert not os.path.exists(os.path.join(berthd.state_dir, "server.key"))
    assert "Remote control on" not in berthd.log()
    # Without a listener there is nothing to enrol with, and berth says so.
    r = berthd.cli("config", "trust", "add-token", "laptop")
    assert r.rc == 5 and "listen_tcp" in r.err, r


def test_enrol_then_every_kind_of_command_works_remotely(remote, client_home, tmp_path):
    token = remote.token("laptop")
    assert re.fullmatch(r"berth1\.[0-9a-f]{64}\.[0-9a-f]{64}", token), token
    r = berth(client_home, "remote", "add", "prod", remote.address, "--token", token)
    assert r.rc == 0, r
    config_dir = os.path.join(client_home["XDG_CONFIG_HOME"], "berth")
    assert stat.S_IMODE(os.stat(config_dir).st_mode) == 0o700
    for name in ("remotes.json", "client.key", "client.crt"):
        assert stat.S_IMODE(os.stat(os.path.join(config_dir, name)).st_mode) == 0o600, name
    # The server knows the client by its certificate's fingerprint, with the token's name and role.
    client_fp = x509.load_pem_x509_certificate(
        open(os.path.join(config_dir, "client.crt"), "rb").read()).fingerprint(
        hashes.SHA256()).hex()
    assert trusted(remote)[client_fp] == ("laptop", "admin")
    # The token stores only its hash: the secret is nowhere in the database.
    assert token.split(".")[1].encode() not in open(remote.db, "rb").read()

    r = berth(client_home, "--remote", "prod", "launch", "web", "--template", "busybox",
              timeout=180)
    assert r.rc == 0, r
    r = berth(client_home, "--remote", "prod", "list", "--format", "json")
    assert r.rc == 0 and [c["name"] for c in r.json()] == ["web"], r
    assert remote.lxc_state("web")[0] == "RUNNING"
    r = berth(client_home, "exec", "prod:web", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (r.rc, r.out, r.err) == (3, "out\n", "err\n"), r
    src = tmp_path / "motd"
    src.write_bytes(b"hello over tls\n" * 1000)
    r = berth(client_home, "file", "push", str(src), "prod:web/tmp/motd")
    assert r.rc == 0, r
    # Read back over the Unix socket: the bytes really arrived in the container.
    assert remote.ok("exec", "web", "--", "cat", "/tmp/motd").out == src.read_text()
    r = berth(client_home, "--remote", "prod", "config", "set", "web", "user.note=remote")
    assert r.rc == 0, r
    assert remote.ok("config", "get", "web", "user.note").out.strip() == "remote"

    # switch: commands go to prod without naming it; local again afterwards.
    assert berth(client_home, "remote", "switch", "prod").rc == 0
    r = berth(client_home, "info", "web", "--format", "json")
    assert r.rc == 0 and r.json()["name"] == "web", r
    r = berth(client_home, "remote", "list")
    assert re.search(r"^\* prod  " + re.escape(remote.address), r.out, re.M), r
    assert berth(client_home, "remote", "switch", "local").rc == 0
    r = berth(client_home, "remote", "remove", "prod")
    assert r.rc == 0 and "prod" not in berth(client_home, "remote", "list").out
    r = berth(client_home, "--remote", "prod", "list")
    assert r.rc == 3 and 'no remote named "prod"' in r.err, r

    # The server saw the calls: last_seen is set.
    listed = remote.ok("config", "trust", "list", "--format", "json").json()
    assert [(c["name"], c["role"]) for c in listed] == [("laptop", "admin")]
    assert listed[0]["last_seen"] != ""
    remote.ok("delete", "web", "--force", timeout=120)


def test_a_token_enrols_once_and_expires(remote, client_home):
    token = remote.token("laptop")
    assert berth(client_home, "remote", "add", "prod", remote.address, "--token", token).rc == 0
    # A second client with the same token: refused, nothing trusted.
    other = dict(client_home, XDG_CONFIG_HOME=client_home["XDG_CONFIG_HOME"] + "-2")
    before = trusted(remote)
    r = berth(other, "remote", "add", "prod", remote.address, "--token", token)
    assert r.rc == 8 and "used already" in r.err, r
    assert trusted(remote) == before
    # An expired token (its expiry moved into the past in the database): refused.
    token = remote.token("late")
    con = sqlite3.connect(remote.db, timeout=10)
    with con:
        con.execute("UPDATE join_tokens SET expires_at_ns = 1 WHERE used_at_ns IS NULL")
    con.close()
    r = berth(other, "remote", "add", "prod", remote.address, "--token", token)
    assert r.rc == 8 and "expired" in r.err, r
    # A made-up secret with the right fingerprint: refused as invalid.
    bogus = "berth1." + "0" * 64 + "." + token.split(".")[2]
    r = berth(other, "remote", "add", "prod", remote.address, "--token", bogus)
    assert r.rc == 8 and "not valid" in r.err, r
    assert trusted(remote) == before
    r = berth(other, "remote", "add", "prod", remote.address, "--token", "nonsense")
    assert r.rc == 6 and "malformed" in r.err, r


def test_a_second_server_posing_as_the_first_is_refused(remote, client_home):
    """MITM: the token names the first server's certificate; the client dials a second berthd."""
    root = tempfile.mkdtemp(prefix="bt-", dir="/tmp")
    impostor = _start(root)
    try:
        token = remote.token("laptop")
        r = berth(client_home, "remote", "add", "prod", impostor.address, "--token", token)
        assert r.rc == 7 and "not the one the token names" in r.err, r
        assert not os.path.exists(os.path.join(client_home["XDG_CONFIG_HOME"], "berth",
                                               "remotes.json"))
        assert trusted(impostor) == {}
        # The secret never reached the impostor, and the token still works with the real one.
        r = berth(client_home, "remote", "add", "prod", remote.address, "--token", token)
        assert r.rc == 0, r
    finally:
        impostor.stop()
        subprocess.run(["rm", "-rf", root, "/run/lxc" + root], timeout=30)


# ---- The handshake matrix ----

def test_no_client_certificate_is_refused_at_the_handshake(remote):
    with tls_channel(remote) as ch:
        code, _ = code_of(lambda: call(ch, "/berth.v1.System/GetVersion"))
    assert code == grpc.StatusCode.UNAVAILABLE


def test_unknown_self_signed_certificate_is_unauthenticated(remote):
    key, cert, fp = make_cert()
    with tls_channel(remote, key, cert) as ch:
        code, details = code_of(lambda: call(ch, "/berth.v1.Containers/ListContainers"))
    assert code == grpc.StatusCode.UNAUTHENTICATED and "not trusted" in details, details


def test_expired_certificate_is_unauthenticated_even_when_trusted(remote):
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=2)
    key, cert, fp = make_cert(not_before=past - datetime.timedelta(days=30), not_after=past)
    # berth refuses to trust an expired certificate...
    cert_file = os.path.join(remote.root, "expired.crt")
    with open(cert_file, "wb") as f:
        f.write(cert)
    r = remote.cli("config", "trust", "add", cert_file)
    assert r.rc == 6 and "expired" in r.err, r
    # ...and one that expired after it was trusted (put in the store directly) gets nowhere.
    con = sqlite3.connect(remote.db, timeout=10)
    with con:
        con.execute("INSERT INTO trusted_clients VALUES (?, 'old', 'admin', 1, NULL)", (fp,))
    con.close()
    with tls_channel(remote, key, cert) as ch:
        code, details = code_of(lambda: call(ch, "/berth.v1.Containers/ListContainers"))
    assert code == grpc.StatusCode.UNAUTHENTICATED and "valid only from" in details, details


def test_revocation_applies_to_a_connected_client(remote):
    key, cert, fp = make_cert("laptop")
    with tls_channel(remote, key, cert) as ch:
        assert enroll(ch, remote.token("laptop")).client.fingerprint == fp
        call(ch, "/berth.v1.Containers/ListContainers")  # Works, and the connection stays up.
        r = remote.ok("config", "trust", "remove", fp[:12])
        assert fp not in trusted(remote)
        # The same channel (same TLS connection): the next call is refused.
        code, details = code_of(lambda: call(ch, "/berth.v1.Containers/ListContainers"))
        assert code == grpc.StatusCode.UNAUTHENTICATED and "not trusted" in details, details
    r = remote.cli("config", "trust", "remove", fp)
    assert r.rc == 3, r


def test_trust_add_with_a_certificate_file(remote):
    key, cert, fp = make_cert("ci-runner")
    path = os.path.join(remote.root, "client.crt")
    with open(path, "wb") as f:
        f.write(cert)
    r = remote.ok("config", "trust", "add", path, "--restricted=readonly")
    assert fp in r.out
    assert trusted(remote)[fp] == ("ci-runner", "readonly")
    r = remote.cli("config", "trust", "add", path)
    assert r.rc == 4 and "trusted already" in r.err, r
    with tls_channel(remote, key, cert) as ch:
        call(ch, "/berth.v1.System/GetVersion")


# ---- The readonly role ----

def methods():
    """(full name, client streaming, server streaming) of every RPC in proto/berth/v1."""
    fds = descriptor_pb2.FileDescriptorSet()
    with open(os.path.join(_STUBS, "all.pb"), "rb") as f:
        fds.ParseFromString(f.read())
    for file in fds.file:
        if not file.package.startswith("berth."):
            continue
        for service in file.service:
            for m in service.method:
                yield (f"/{file.package}.{service.name}/{m.name}", m.client_streaming,
                       m.server_streaming)


def test_readonly_client_can_read_but_every_mutating_rpc_is_refused(remote):
    remote.ok("create", "web", "--template", "busybox", timeout=180)
    before_rows = remote.db_rows()
    before_lxc = remote.lxc_state("web")
    before_trust = trusted(remote)
    key, cert, fp = make_cert("viewer")
    refused = []
    with tls_channel(remote, key, cert) as ch:
        client = enroll(ch, remote.token("viewer", "--restricted=readonly")).client
        assert client.role == trust_pb2.TRUST_ROLE_READONLY
        before_trust[fp] = ("viewer", "readonly")
        call(ch, "/berth.v1.Containers/ListContainers")
        call(ch, "/berth.v1.System/GetVersion")
        for method, client_streaming, server_streaming in methods():
            if method in READONLY or method == "/berth.v1.Trust/Enroll":
                continue
            if client_streaming and server_streaming:
                stub = ch.stream_stream(method)
                fn = lambda: list(stub(iter([b""]), timeout=10))  # noqa: E731
            elif client_streaming:
                stub = ch.stream_unary(method)
                fn = lambda: stub(iter([b""]), timeout=10)  # noqa: E731
            elif server_streaming:
                stub = ch.unary_stream(method)
                fn = lambda: list(stub(b"", timeout=10))  # noqa: E731
            else:
                fn = lambda: call(ch, method)  # noqa: E731
            code, details = code_of(fn)
            assert code == grpc.StatusCode.PERMISSION_DENIED, (method, code, details)
            assert "readonly" in details, (method, details)
            refused.append(method)
    assert len(refused) >= 20, refused
    # Nothing changed: the definition, liblxc's view and the trust store are as they were.
    assert remote.db_rows() == before_rows
    assert remote.lxc_state("web") == before_lxc
    assert trusted(remote) == before_trust
    remote.ok("delete", "web", timeout=120)


# ---- Idle connections and a slow client ----

def test_idle_connections_and_a_slow_loris_do_not_block_others(remote):
    """200 TCP connections that never handshake, and one that sends its ClientHello a byte at a
    time: the Unix socket and a trusted TLS client keep working, and berthd drops the idle
    ones at its handshake timeout."""
    import socket
    import threading
    key, cert, fp = make_cert("ok")
    with tls_channel(remote, key, cert) as ch:
        enroll(ch, remote.token("ok"))
    idle = []
    try:
        for _ in range(200):
            s = socket.create_connection(("127.0.0.1", remote.port), timeout=10)
            idle.append(s)
        stop = threading.Event()

        def loris():
            # A TLS record header and the start of a ClientHello, one byte every 100 ms.
            hello = bytes.fromhex("160301020001") + b"\x00" * 200
            with socket.create_connection(("127.0.0.1", remote.port), timeout=10) as s:
                for b in hello:
                    if stop.wait(0.1):
                        return
                    try:
                        s.sendall(bytes([b]))
                    except OSError:
                        return  # berthd closed it: what should happen.

        t = threading.Thread(target=loris, daemon=True)
        t.start()
        try:
            # Others are served meanwhile: the Unix socket, and a new TLS connection.
            r = remote.cli("list", timeout=30)
            assert r.rc == 0, r
            with tls_channel(remote, key, cert) as ch:
                call(ch, "/berth.v1.Containers/ListContainers", timeout=15)
        finally:
            stop.set()
            t.join(timeout=30)
        # The idle connections are closed by berthd at its handshake timeout (10 s).
        def closed(s):
            s.settimeout(0.1)
            try:
                return s.recv(1) == b""
            except socket.timeout:
                return False
            except OSError:
                return True
        wait_for(lambda: all(closed(s) for s in idle), timeout=40,
                 what="berthd to close connections that never handshook")
        assert remote.proc.poll() is None
    finally:
        for s in idle:
            s.close()
