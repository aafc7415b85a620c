#pragma once

#include <memory>

#include "spdlog/spdlog.h"

namespace berth::core {

// The logger main() registered under `name` ("core", "api", "audit"...), or the default logger
// when there is none (tests). Looked up on each call rather than cached, so that a test that
// replaces a logger is heard.
inline std::shared_ptr<spdlog::logger> NamedLogger(const char* name) {
  auto logger = spdlog::get(name);
  return logger ? logger : spdlog::default_logger();
}

}  // namespace berth::core
