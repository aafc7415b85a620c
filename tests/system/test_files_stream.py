"""berth.v1.Files PushFile / PullFile driven frame by frame over gRPC, against a real busybox
container: berthd receives the next push frame while it writes the last one and reads the next
pull chunk while the last one is sent, so these check that bytes stay in order whatever the frame
sizes, and that a bad frame or a client that goes away mid-stream leaves no file (and no
temporary file) behind and berthd serving."""
import hashlib
import os
import random
import subprocess
import sys
import tempfile
import threading

import grpc
import pytest

from conftest import SOURCE_DIR, wait_for

_STUBS = tempfile.mkdtemp(prefix="berth-files-stream-stubs-")
subprocess.run(["protoc", "-I", os.path.join(SOURCE_DIR, "proto"), "--python_out", _STUBS,
                os.path.join(SOURCE_DIR, "proto/berth/v1/files.proto")], check=True, timeout=60)
sys.path.insert(0, _STUBS)
from berth.v1 import files_pb2  # noqa: E402

MIB = 1 << 20


@pytest.fixture
def web(berthd):
    berthd.ok("launch", "web", "--template", "busybox")
    return os.path.join(berthd.lxc_path, "web", "rootfs")


def push_call(channel):
    return channel.stream_unary("/berth.v1.Files/PushFile",
                                request_serializer=files_pb2.PushFileRequest.SerializeToString,
                                response_deserializer=files_pb2.PushFileResponse.FromString)


def pull_call(channel):
    return channel.unary_stream("/berth.v1.Files/PullFile",
                                request_serializer=files_pb2.PullFileRequest.SerializeToString,
                                response_deserializer=files_pb2.PullFileResponse.FromString)


def start(path):
    return files_pb2.PushFileRequest(
        start=files_pb2.PushFileStart(container="web", path=path, mode=0o644))


def leftovers(rootfs):
    return [n for n in os.listdir(os.path.join(rootfs, "tmp")) if n.startswith(".berth-push-")]


def test_push_frames_of_every_size_arrive_in_order(berthd, web):
    rng = random.Random(7)
    sizes = [1, MIB, 17, MIB - 1, 0, 4096] + [rng.randint(1, MIB) for _ in range(40)]
    pieces = [rng.randbytes(n) for n in sizes]
    with grpc.insecure_channel("unix:" + berthd.socket) as channel:
        reply = push_call(channel)(iter([start("/tmp/big")] + [
            files_pb2.PushFileRequest(data=p) for p in pieces]), timeout=120)
    data = b"".join(pieces)
    assert reply.size == len(data)
    with open(os.path.join(web, "tmp", "big"), "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == hashlib.sha256(data).hexdigest()
    assert leftovers(web) == []


def test_push_with_a_second_start_frame_fails_and_leaves_nothing(berthd, web):
    frames = [start("/tmp/bad"), files_pb2.PushFileRequest(data=b"x" * MIB),
              files_pb2.PushFileRequest(data=b"y" * MIB), start("/tmp/bad")]
    with grpc.insecure_channel("unix:" + berthd.socket) as channel:
        with pytest.raises(grpc.RpcError) as e:
            push_call(channel)(iter(frames), timeout=60)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "only data frames" in e.value.details()
    assert not os.path.exists(os.path.join(web, "tmp", "bad"))
    assert leftovers(web) == []


def test_push_cancelled_mid_stream_leaves_nothing(berthd, web):
    sent = threading.Event()
    release = threading.Event()

    def frames():
        yield start("/tmp/gone")
        for _ in range(8):
            yield files_pb2.PushFileRequest(data=b"z" * MIB)
        sent.set()
        release.wait(60)  # hold the stream open until it is cancelled

    with grpc.insecure_channel("unix:" + berthd.socket) as channel:
        future = push_call(channel).future(frames(), timeout=60)
        assert sent.wait(60)
        wait_for(lambda: leftovers(web), what="the push's temporary file")
        future.cancel()
        release.set()
        with pytest.raises(grpc.FutureCancelledError):
            future.result(timeout=60)
    wait_for(lambda: leftovers(web) == [], what="the temporary file to be removed")
    assert not os.path.exists(os.path.join(web, "tmp", "gone"))
    berthd.ok("exec", "web", "--", "true")


def make_file(rootfs, name, size):
    data = random.Random(size).randbytes(size)
    with open(os.path.join(rootfs, "tmp", name), "wb") as f:
        f.write(data)
    return data


def test_pull_sends_info_then_every_chunk_in_order(berthd, web):
    data = make_file(web, "src", 5 * MIB + 12345)
    with grpc.insecure_channel("unix:" + berthd.socket) as channel:
        frames = list(pull_call(channel)(
            files_pb2.PullFileRequest(container="web", path="/tmp/src"), timeout=120))
    assert frames[0].WhichOneof("frame") == "info"
    assert frames[0].info.size == len(data)
    chunks = [f.data for f in frames[1:]]
    assert all(f.WhichOneof("frame") == "data" for f in frames[1:])
    assert all(0 < len(c) <= MIB for c in chunks)
    assert b"".join(chunks) == data


def test_pull_cancelled_mid_stream_keeps_berthd_serving(berthd, web):
    data = make_file(web, "src", 32 * MIB)
    with grpc.insecure_channel("unix:" + berthd.socket) as channel:
        call = pull_call(channel)(files_pb2.PullFileRequest(container="web", path="/tmp/src"),
                                  timeout=120)
        assert next(call).WhichOneof("frame") == "info"
        assert len(next(call).data) > 0
        call.cancel()
        with pytest.raises(grpc.RpcError) as e:
            for _ in call:
                pass
        assert e.value.code() == grpc.StatusCode.CANCELLED
        again = pull_call(channel)(files_pb2.PullFileRequest(container="web", path="/tmp/src"),
                                   timeout=120)
        assert b"".join(f.data for f in again) == data
