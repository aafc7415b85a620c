#pragma once

#include <map>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/status.h"

namespace berth::core {

// Every check returns OK or INVALID_ARGUMENT with one sentence naming the value, the rule and what
// to do. Nothing reaches the store or the runtime before it passes these.

// Hostname rules: 1-63 characters of ASCII letters, digits and '-', not starting or ending with '-',
// not all digits.
absl::Status ValidateContainerName(absl::string_view name);

// Template name: 1-64 characters of lower-case letters, digits, '-' and '_'.
absl::Status ValidateTemplateName(absl::string_view name);

// A snapshot name: 1-63 letters, digits, '-', '_' and '.', starting with a letter or digit (so
// never "." or "..", and never one of the runtime's hidden work names). INVALID_ARGUMENT.
absl::Status ValidateSnapshotName(absl::string_view name);

// Free-form strings that may end up in files (template args, label and config values): at most
// 4096 bytes, valid UTF-8 is not required but no control characters (bytes < 0x20 and 0x7f).
absl::Status ValidateFreeText(absl::string_view what, absl::string_view value);

// Label keys: 1-63 characters of letters, digits, '-', '_', '.' and '/', starting with a letter or
// digit. Values: free text. At most 64 labels.
absl::Status ValidateLabels(const std::map<std::string, std::string>& labels);

// Every key must be in the config schema (config_schema.h) and its value pass the key's validator;
// at most 256 keys.
absl::Status ValidateConfig(const std::map<std::string, std::string>& config);

absl::Status ValidateTemplateArgs(const std::vector<std::string>& args);

}  // namespace berth::core
