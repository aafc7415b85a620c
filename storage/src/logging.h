#pragma once

#include <memory>

#include "spdlog/logger.h"

namespace berth::storage {

// The logger storage/ writes to: the spdlog logger registered as "storage" when the daemon made
// one (main.cc owns sinks and levels), else spdlog's default logger. Thread-safe.
std::shared_ptr<spdlog::logger> Logger();

}  // namespace berth::storage
