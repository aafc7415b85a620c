#include "config.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/strings/string_view.h"

namespace berth {

absl::Status LoadConfigFile(const std::string& path, DaemonConfig* config) {
  std::ifstream in(path);
  if (!in) {
    int err = errno;
    std::string why = absl::StrCat("cannot read config file \"", path, "\": ", std::strerror(err));
    return err == EACCES ? absl::PermissionDeniedError(why) : absl::NotFoundError(why);
  }
  const std::map<std::string, std::string*> keys = {
      {"socket", &config->socket_path},   {"socket_group", &config->socket_group},
      {"state_dir", &config->state_dir},  {"lxc_path", &config->lxc_path},
      {"log_level", &config->log_level},  {"helper", &config->helper_path},
      {"listen_tcp", &config->listen_tcp}, {"tls_key", &config->tls_key},
      {"tls_cert", &config->tls_cert},
  };
  const std::map<std::string, int64_t*> numbers = {
      {"events_keep", &config->events_keep},
      {"events_max_age_days", &config->events_max_age_days},
  };
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    auto where = [&] { return absl::StrCat(path, ":", number, ": "); };
    absl::string_view text = absl::StripAsciiWhitespace(line);
    if (text.empty() || text.front() == '#') continue;
    size_t eq = text.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), "expected `key = value`, got \"", text, "\""));
    }
    std::string key(absl::StripAsciiWhitespace(text.substr(0, eq)));
    absl::string_view value = absl::StripAsciiWhitespace(text.substr(eq + 1));
    if (!value.empty() && value.front() == '"') {
      size_t close = value.find('"', 1);
      absl::string_view rest =
          close == absl::string_view::npos ? "" : absl::StripAsciiWhitespace(value.substr(close + 1));
      if (close == absl::string_view::npos || (!rest.empty() && rest.front() != '#')) {
        return absl::InvalidArgumentError(
            absl::StrCat(where(), "a quoted value must end with '\"' (then only a comment)"));
      }
      value = value.substr(1, close - 1);
    } else {
      value = absl::StripAsciiWhitespace(value.substr(0, value.find('#')));
    }
    if (auto number = numbers.find(key); number != numbers.end()) {
      int64_t parsed = 0;  // Not into the config directly: SimpleAtoi writes 0 on failure.
      if (!absl::SimpleAtoi(value, &parsed)) {
        return absl::InvalidArgumentError(
            absl::StrCat(where(), key, " must be a whole number, got \"", value, "\""));
      }
      *number->second = parsed;
      continue;
    }
    auto it = keys.find(key);
    if (it == keys.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), "unknown key \"", key,
                       "\"; known keys: socket, socket_group, state_dir, lxc_path, log_level, "
                       "helper, listen_tcp, tls_key, tls_cert, events_keep, events_max_age_days"));
    }
    *it->second = std::string(value);
  }
  return ValidateConfig(*config);
}

absl::Status ValidateConfig(const DaemonConfig& config) {
  auto absolute = [](absl::string_view what, const std::string& p, bool may_be_empty) {
    if ((p.empty() && may_be_empty) || (!p.empty() && p.front() == '/')) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat(what, " must be an absolute path, got \"", p, "\""));
  };
  for (auto s : {absolute("socket", config.socket_path, false),
                 absolute("state_dir", config.state_dir, false),
                 absolute("lxc_path", config.lxc_path, true),
                 absolute("helper", config.helper_path, true),
                 absolute("tls_key", config.tls_key, true),
                 absolute("tls_cert", config.tls_cert, true)}) {
    if (!s.ok()) return s;
  }
  if (config.events_keep < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "events_keep must be at least 1, got ", config.events_keep));
  }
  if (config.events_max_age_days < 1 || config.events_max_age_days > 36500) {
    return absl::InvalidArgumentError(absl::StrCat(
        "events_max_age_days must be between 1 and 36500, got ", config.events_max_age_days));
  }
  if (!config.listen_tcp.empty()) {
    size_t colon = config.listen_tcp.rfind(':');
    int port = 0;
    if (colon == std::string::npos || colon == 0 ||
        !absl::SimpleAtoi(absl::string_view(config.listen_tcp).substr(colon + 1), &port) ||
        port < 0 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat(
          "listen_tcp must be HOST:PORT such as \"[::]:8443\" or \"192.0.2.10:8443\", got \"",
          config.listen_tcp, "\""));
    }
  }
  static const char* kLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  for (const char* level : kLevels) {
    if (config.log_level == level) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "log_level \"", config.log_level,
      "\" is not one of trace, debug, info, warn, error, critical, off"));
}

}  // namespace berth
