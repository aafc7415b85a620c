// UnixListener::Adopt: the socket systemd binds and hands over (socket activation).
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "berth/api/unix_listener.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace berth::api {
namespace {

UnixListener::Options At(const std::string& path) {
  UnixListener::Options options;
  options.path = path;
  return options;
}

class AdoptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-adopt-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/berth.sock";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // What systemd does for berthd.socket: bind and listen, mode 0660.
  int BindLikeSystemd() {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path_.c_str());
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(chmod(path_.c_str(), 0660), 0);
    EXPECT_EQ(listen(fd, 16), 0);
    return fd;
  }

  bool Connects() {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path_.c_str());
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    close(fd);
    return ok;
  }

  // A gRPC server with no port and one (callback) service, so that it starts.
  std::unique_ptr<grpc::Server> BareServer() {
    grpc::ServerBuilder builder;
    builder.RegisterCallbackGenericService(&generic_);
    return builder.BuildAndStart();
  }

  grpc::CallbackGenericService generic_;
  std::string dir_;
  std::string path_;
};

TEST_F(AdoptTest, RefusesWhatIsNotAListeningUnixStreamSocket) {
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  auto from_pipe = UnixListener::Adopt(pipe_fds[0], At(path_));
  EXPECT_EQ(from_pipe.status().code(), absl::StatusCode::kInvalidArgument);
  close(pipe_fds[0]);
  close(pipe_fds[1]);

  int unlistened = socket(AF_UNIX, SOCK_STREAM, 0);
  auto not_listening = UnixListener::Adopt(unlistened, At(path_));
  EXPECT_EQ(not_listening.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(fcntl(unlistened, F_GETFD), -1) << "a refused fd stays the caller's";
  close(unlistened);

  int datagram = socket(AF_UNIX, SOCK_DGRAM, 0);
  EXPECT_EQ(UnixListener::Adopt(datagram, At(path_)).status().code(),
            absl::StatusCode::kInvalidArgument);
  close(datagram);
}

TEST_F(AdoptTest, ServesOnTheAdoptedSocketAndLeavesItsFileAlone) {
  int fd = BindLikeSystemd();
  auto listener = UnixListener::Adopt(fd, At("/run/elsewhere.sock"));
  ASSERT_TRUE(listener.ok()) << listener.status();
  EXPECT_EQ((*listener)->path(), path_) << "the path is read from the socket";
  EXPECT_EQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC) << "helpers must not inherit it";

  auto server = BareServer();
  ASSERT_NE(server, nullptr);
  (*listener)->Serve(server.get());
  EXPECT_TRUE(Connects());
  (*listener)->Stop();

  // Mode and file are the owner's (systemd's): untouched, and still there after Stop.
  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  listener->reset();
  EXPECT_TRUE(std::filesystem::exists(path_));
  server->Shutdown();
}

TEST_F(AdoptTest, ABoundListenerRemovesItsFileOnStop) {
  auto listener = UnixListener::Bind(At(path_));
  ASSERT_TRUE(listener.ok()) << listener.status();
  auto server = BareServer();
  ASSERT_NE(server, nullptr);
  (*listener)->Serve(server.get());
  EXPECT_TRUE(Connects());
  (*listener)->Stop();
  EXPECT_FALSE(std::filesystem::exists(path_));
  server->Shutdown();
}

}  // namespace
}  // namespace berth::api
