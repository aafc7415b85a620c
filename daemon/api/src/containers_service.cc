#include <algorithm>
#include <map>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "berth/api/converters.h"
#include "berth/api/remote_access.h"
#include "berth/api/services.h"
#include "berth/core/logging.h"
#include "reactor_util.h"
#include "spdlog/spdlog.h"

namespace berth::api {
namespace {

using berth::v1::Container;
using berth::v1::ContainerView;

constexpr int kDefaultPageSize = 500;
constexpr int kMaxPageSize = 1000;

bool WantsLive(ContainerView view) { return view != berth::v1::CONTAINER_VIEW_DEFINITION; }

std::map<std::string, std::string> ToMap(const google::protobuf::Map<std::string, std::string>& m) {
  return {m.begin(), m.end()};
}

// Page tokens are opaque to clients: the last name of the previous page, base64-encoded.
std::string EncodePageToken(const std::string& last_name) {
  return absl::WebSafeBase64Escape(absl::StrCat("after:", last_name));
}

absl::StatusOr<std::string> DecodePageToken(const std::string& token) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw) || raw.rfind("after:", 0) != 0) {
    return absl::InvalidArgumentError(
        "page_token is not one this server gave out; pass next_page_token unchanged");
  }
  return raw.substr(6);
}

}  // namespace

void Audit(const ServiceDeps& deps, grpc::CallbackServerContext* ctx, absl::string_view method,
           absl::string_view container, absl::string_view detail) {
  auto logger = core::NamedLogger("audit");
  std::optional<PeerCredentials> peer;
  if (deps.listener != nullptr) peer = deps.listener->Lookup(ctx->peer());
  // Names are not validated yet here: escape control characters so a log line stays one line.
  auto escape = [](absl::string_view s) {
    std::string out;
    for (char c : s) {
      unsigned char u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f) {
        out += absl::StrCat("\\x", absl::Hex(u, absl::kZeroPad2));
      } else {
        out += c;
      }
    }
    return out;
  };
  std::string who = peer ? absl::StrCat("uid ", peer->uid, " pid ", peer->pid)
                         : absl::StrCat("peer ", ctx->peer());
  // A remote caller: the trust store's name for its certificate (set by TrustAuthProcessor).
  if (auto auth = ctx->auth_context(); auth != nullptr) {
    std::vector<grpc::string_ref> name = auth->FindPropertyValues(kClientNameProperty);
    if (!name.empty()) {
      who = absl::StrCat("remote client \"", escape(absl::string_view(name.front().data(),
                                                                      name.front().size())),
                         "\" at ", ctx->peer());
    }
  }
  logger->info("{} \"{}\"{}{} by {}", std::string(method), escape(container),
               detail.empty() ? "" : " ", escape(detail), who);
}

grpc::ServerUnaryReactor* ContainersService::CreateContainer(
    grpc::CallbackServerContext* ctx, const berth::v1::CreateContainerRequest* request,
    Container* response) {
  const bool from_image = request->source().has_image();
  if (!request->source().has_template_() && !from_image) {
    return FinishNow(ctx, absl::InvalidArgumentError(
                              "no source given: say which image or template to create the "
                              "container from (for example image \"busybox\")"));
  }
  if (from_image && deps_.images == nullptr) {
    return FinishNow(ctx, absl::UnimplementedError("this berthd serves no images"));
  }
  Audit(deps_, ctx, request->start() ? "Launch" : "Create", request->name());
  core::CreateParams params;
  params.name = request->name();
  params.template_name = request->source().template_().name();
  params.template_args.assign(request->source().template_().args().begin(),
                              request->source().template_().args().end());
  params.config = ToMap(request->config());
  params.labels = ToMap(request->labels());
  params.profiles.assign(request->profiles().begin(), request->profiles().end());
  params.devices = FromProto(request->devices());
  params.start = request->start();
  std::string image = request->source().image().image();
  return FinishOnExecutor(
      ctx, deps_.executor,
      [m = deps_.manager, images = deps_.images, params = std::move(params),
       image = std::move(image), from_image, response]() mutable -> absl::Status {
        auto create = [&]() -> absl::Status {
          auto view = m->Create(params);
          if (view.ok()) ToProto(*view, response);
          return view.status();
        };
        if (!from_image) return create();
        // The image stays until the container that uses it is stored.
        return images->WithImage(image, [&](const core::ImageLease& lease) {
          params.image_fingerprint = lease.fingerprint;
          params.image_rootfs = lease.rootfs;
          params.image_lxc_entries = lease.lxc_entries;
          return create();
        });
      });
}

grpc::ServerUnaryReactor* ContainersService::GetContainer(
    grpc::CallbackServerContext* ctx, const berth::v1::GetContainerRequest* request,
    Container* response) {
  return FinishOnExecutor(ctx, deps_.executor, [m = deps_.manager, request, response] {
    auto view = m->Get(request->name(), WantsLive(request->view()));
    if (view.ok()) ToProto(*view, response);
    return view.status();
  });
}

grpc::ServerUnaryReactor* ContainersService::ListContainers(
    grpc::CallbackServerContext* ctx, const berth::v1::ListContainersRequest* request,
    berth::v1::ListContainersResponse* response) {
  if (request->page_size() < 0) {
    return FinishNow(ctx, absl::InvalidArgumentError("page_size must not be negative"));
  }
  std::string after;
  if (!request->page_token().empty()) {
    auto decoded = DecodePageToken(request->page_token());
    if (!decoded.ok()) return FinishNow(ctx, decoded.status());
    after = *decoded;
  }
  int page_size = request->page_size() == 0 ? kDefaultPageSize
                                            : std::min(request->page_size(), kMaxPageSize);
  return FinishOnExecutor(
      ctx, deps_.executor, [m = deps_.manager, request, response, after, page_size] {
        // Select on the definitions first, so live state is read only for what is returned.
        auto views = m->List(/*with_live=*/false);
        if (!views.ok()) return views.status();
        std::vector<core::ContainerView> page;
        for (auto& view : *views) {
          const auto& d = view.definition;
          if (!after.empty() && d.name <= after) continue;
          bool match = std::all_of(
              request->label_selector().begin(), request->label_selector().end(),
              [&](const auto& kv) {
                auto it = d.labels.find(kv.first);
                return it != d.labels.end() && it->second == kv.second;
              });
          if (!match) continue;
          if (static_cast<int>(page.size()) == page_size) {
            response->set_next_page_token(EncodePageToken(page.back().definition.name));
            break;
          }
          page.push_back(std::move(view));
        }
        for (auto& view : page) {
          if (WantsLive(request->view())) {
            auto full = m->Get(view.definition.name, /*with_live=*/true);
            if (!full.ok()) continue;  // Deleted meanwhile.
            view = *std::move(full);
          }
          ToProto(view, response->add_containers());
        }
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* ContainersService::UpdateContainer(
    grpc::CallbackServerContext* ctx, const berth::v1::UpdateContainerRequest* request,
    Container* response) {
  if (!request->update_labels()) {
    return FinishNow(ctx, absl::InvalidArgumentError(
                              "nothing to update: set update_labels (labels are the only "
                              "updatable field so far)"));
  }
  Audit(deps_, ctx, "Update", request->name());
  return FinishOnExecutor(ctx, deps_.executor, [m = deps_.manager, request, response] {
    auto view = m->UpdateLabels(request->name(), request->expected_revision(),
                                ToMap(request->labels()));
    if (view.ok()) ToProto(*view, response);
    return view.status();
  });
}

grpc::ServerUnaryReactor* ContainersService::UpdateContainerConfig(
    grpc::CallbackServerContext* ctx, const berth::v1::UpdateContainerConfigRequest* request,
    berth::v1::UpdateContainerConfigResponse* response) {
  if (request->set().empty() && request->unset().empty()) {
    return FinishNow(ctx, absl::InvalidArgumentError(
                              "nothing to change: give keys to set or to unset"));
  }
  std::vector<std::string> keys;
  for (const auto& [key, value] : request->set()) keys.push_back(key);
  for (const std::string& key : request->unset()) keys.push_back(absl::StrCat("-", key));
  std::sort(keys.begin(), keys.end());
  Audit(deps_, ctx, "UpdateConfig", request->name(), absl::StrJoin(keys, ","));
  return FinishOnExecutor(ctx, deps_.executor, [m = deps_.manager, request, response] {
    auto update =
        m->UpdateConfig(request->name(), request->expected_revision(), ToMap(request->set()),
                        {request->unset().begin(), request->unset().end()});
    if (!update.ok()) return update.status();
    ToProto(update->view, response->mutable_container());
    for (const std::string& notice : update->notices) response->add_notices(notice);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ContainersService::RenameContainer(
    grpc::CallbackServerContext* ctx, const berth::v1::RenameContainerRequest* request,
    Container* response) {
  Audit(deps_, ctx, "Rename", request->name(), absl::StrCat("to \"", request->new_name(), "\""));
  return FinishOnExecutor(ctx, deps_.executor, [m = deps_.manager, request, response] {
    auto view = m->Rename(request->name(), request->new_name());
    if (view.ok()) ToProto(*view, response);
    return view.status();
  });
}

grpc::ServerUnaryReactor* ContainersService::DeleteContainer(
    grpc::CallbackServerContext* ctx, const berth::v1::DeleteContainerRequest* request,
    berth::v1::DeleteContainerResponse*) {
  Audit(deps_, ctx, "Delete", request->name(), request->force() ? "(force)" : "");
  return FinishOnExecutor(ctx, deps_.executor, [m = deps_.manager, request] {
    return m->Delete(request->name(), request->force());
  });
}

}  // namespace berth::api
