#include "logging.h"

#include "spdlog/spdlog.h"

namespace berth::storage {

std::shared_ptr<spdlog::logger> Logger() {
  std::shared_ptr<spdlog::logger> logger = spdlog::get("storage");
  return logger != nullptr ? logger : spdlog::default_logger();
}

}  // namespace berth::storage
