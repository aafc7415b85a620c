#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <filesystem>

#include "absl/time/clock.h"
#include "berth/api/services.h"
#include "berth/core/config_schema.h"
#include "berth/version.h"
#include "grpcpp/grpcpp.h"
#include "reactor_util.h"

namespace berth::api {
namespace {

std::string CgroupLayout() {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists("/sys/fs/cgroup/cgroup.controllers", ec)) return "v2";
  if (fs::exists("/sys/fs/cgroup/unified", ec)) return "hybrid";
  return "v1";
}

}  // namespace

grpc::ServerUnaryReactor* SystemService::GetVersion(grpc::CallbackServerContext* ctx,
                                                    const berth::v1::GetVersionRequest*,
                                                    berth::v1::Version* response) {
  response->set_daemon_version(kVersion);
  response->set_api_version(kApiVersion);
  response->set_liblxc_version(facts_.liblxc_version);
  response->set_grpc_version(grpc::Version());
  return FinishNow(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* SystemService::GetHostInfo(grpc::CallbackServerContext* ctx,
                                                     const berth::v1::GetHostInfoRequest*,
                                                     berth::v1::HostInfo* response) {
  return FinishOnExecutor(ctx, deps_.executor, [this, response] {
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    response->set_hostname(host);
    utsname uts{};
    if (uname(&uts) == 0) response->set_kernel_release(uts.release);
    response->set_cpus(static_cast<uint32_t>(sysconf(_SC_NPROCESSORS_ONLN)));
    struct sysinfo si{};
    if (sysinfo(&si) == 0) {
      response->set_memory_total_bytes(static_cast<uint64_t>(si.totalram) * si.mem_unit);
    }
    response->set_cgroup_layout(CgroupLayout());
    response->set_state_dir(facts_.state_dir);
    response->set_lxc_path(facts_.lxc_path);
    response->set_daemon_uptime_seconds(
        static_cast<uint64_t>(absl::ToInt64Seconds(absl::Now() - facts_.started_at)));
    auto counts = deps_.manager->Counts();
    if (!counts.ok()) return counts.status();
    response->set_containers_total(counts->total);
    response->set_containers_running(counts->running);
    response->set_containers_frozen(counts->frozen);
    response->set_containers_stopped(counts->stopped);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* SystemService::ListConfigKeys(
    grpc::CallbackServerContext* ctx, const berth::v1::ListConfigKeysRequest*,
    berth::v1::ListConfigKeysResponse* response) {
  for (const core::ConfigKeySpec& spec : core::ConfigKeys()) {
    berth::v1::ConfigKey* key = response->add_keys();
    key->set_name(std::string(spec.name));
    key->set_type(std::string(spec.type));
    key->set_default_value(std::string(spec.default_value));
    key->set_live(spec.live);
    key->set_help(std::string(spec.help));
  }
  return FinishNow(ctx, absl::OkStatus());
}

}  // namespace berth::api
