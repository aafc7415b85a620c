"""berthd driven by a client that is not ours: Debian's python3-grpcio with stubs that protoc
generated from the published proto, plus server reflection and health as generic tools use them."""
import grpc
import pytest

from berth.v1 import containers_pb2, lifecycle_pb2, system_pb2
import reflection_probe_pb2


def rpc(channel, method, request, response_type, timeout=60):
    call = channel.unary_unary(method, request_serializer=type(request).SerializeToString,
                               response_deserializer=response_type.FromString)
    return call(request, timeout=timeout)


@pytest.fixture
def channel(berthd):
    with grpc.insecure_channel("unix:" + berthd.socket) as ch:
        yield ch


def test_reflection_lists_berth_services_without_proto_files(channel):
    stream = channel.stream_stream(
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_probe_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_probe_pb2.ServerReflectionResponse.FromString)
    responses = list(stream(iter([reflection_probe_pb2.ServerReflectionRequest(list_services="")]),
                            timeout=10))
    names = {s.name for s in responses[0].list_services_response.service}
    assert {"berth.v1.Containers", "berth.v1.Lifecycle", "berth.v1.System",
            "grpc.health.v1.Health"} <= names

    # The descriptors themselves come back too, so a tool can build requests from them.
    responses = list(stream(iter([reflection_probe_pb2.ServerReflectionRequest(
        file_containing_symbol="berth.v1.Lifecycle")]), timeout=10))
    files = responses[0].file_descriptor_response.file_descriptor_proto
    assert any(b"StopContainerRequest" in f for f in files)


def test_health_is_serving(berthd):
    assert berthd.health() == "SERVING"


def test_version_over_grpc(channel):
    v = rpc(channel, "/berth.v1.System/GetVersion", system_pb2.GetVersionRequest(),
            system_pb2.Version)
    assert v.api_version == "v1"
    assert v.liblxc_version.startswith("5.")
    assert v.daemon_version


def test_full_lifecycle_over_grpc(berthd, channel):
    C, L = containers_pb2, lifecycle_pb2
    created = rpc(channel, "/berth.v1.Containers/CreateContainer",
                  C.CreateContainerRequest(
                      name="py1", start=True, labels={"tier": "web"},
                      source=C.ContainerSource(template=C.TemplateSource(name="busybox"))),
                  C.Container)
    assert created.status.state == C.STATE_RUNNING
    assert created.revision >= 1
    state, pid = berthd.lxc_state("py1")
    assert state == "RUNNING" and pid == created.status.init_pid

    listed = rpc(channel, "/berth.v1.Containers/ListContainers",
                 C.ListContainersRequest(label_selector={"tier": "web"}),
                 C.ListContainersResponse)
    assert [c.name for c in listed.containers] == ["py1"]

    rpc(channel, "/berth.v1.Lifecycle/StopContainer",
        L.StopContainerRequest(name="py1", force=True), C.Container)
    waited = rpc(channel, "/berth.v1.Lifecycle/WaitContainer",
                 L.WaitContainerRequest(name="py1", state=C.STATE_STOPPED), C.Container,
                 timeout=10)
    assert waited.status.state == C.STATE_STOPPED
    assert berthd.lxc_state("py1")[0] == "STOPPED"

    rpc(channel, "/berth.v1.Containers/DeleteContainer", C.DeleteContainerRequest(name="py1"),
        C.DeleteContainerResponse)
    assert "py1" not in berthd.lxc_names()
    assert "py1" not in berthd.db_rows()


def test_errors_carry_grpc_codes(channel):
    C = containers_pb2
    with pytest.raises(grpc.RpcError) as e:
        rpc(channel, "/berth.v1.Containers/GetContainer", C.GetContainerRequest(name="nope"),
            C.Container)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert '"nope"' in e.value.details()

    with pytest.raises(grpc.RpcError) as e:
        rpc(channel, "/berth.v1.Containers/CreateContainer",
            C.CreateContainerRequest(
                name="bad/name", source=C.ContainerSource(template=C.TemplateSource(name="busybox"))),
            C.Container)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_wait_times_out_with_deadline(berthd, channel):
    C, L = containers_pb2, lifecycle_pb2
    rpc(channel, "/berth.v1.Containers/CreateContainer",
        C.CreateContainerRequest(
            name="py2", source=C.ContainerSource(template=C.TemplateSource(name="busybox"))),
        C.Container)
    with pytest.raises(grpc.RpcError) as e:
        rpc(channel, "/berth.v1.Lifecycle/WaitContainer",
            L.WaitContainerRequest(name="py2", state=C.STATE_RUNNING), C.Container, timeout=0.5)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    # The daemon is still fine afterwards.
    got = rpc(channel, "/berth.v1.Containers/GetContainer", C.GetContainerRequest(name="py2"),
              C.Container)
    assert got.status.state == C.STATE_STOPPED
