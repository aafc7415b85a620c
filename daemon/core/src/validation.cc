#include "berth/core/validation.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "berth/core/config_schema.h"

namespace berth::core {
namespace {

// Quotes a user-supplied value for an error message, escaping anything unprintable so the message
// itself stays one clean line.
std::string Quote(absl::string_view s) {
  constexpr size_t kMaxShown = 80;
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < kMaxShown; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += absl::StrFormat("\\x%02x", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > kMaxShown) out += "...";
  out += '"';
  return out;
}

bool IsControl(unsigned char c) { return c < 0x20 || c == 0x7f; }

}  // namespace

absl::Status ValidateContainerName(absl::string_view name) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid container name ", Quote(name), ": ", why,
        "; use 1-63 letters, digits and '-', not starting or ending with '-' and not all digits"));
  };
  if (name.empty()) return bad("it is empty");
  if (name.size() > 63) return bad("it is longer than 63 characters");
  bool all_digits = true;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') {
      unsigned char u = static_cast<unsigned char>(c);
      if (IsControl(u)) return bad("it contains a control character");
      return bad(absl::StrCat("it contains ", Quote(absl::string_view(&c, 1))));
    }
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) all_digits = false;
  }
  if (name.front() == '-' || name.back() == '-') return bad("it starts or ends with '-'");
  if (all_digits) return bad("it is all digits");
  return absl::OkStatus();
}

absl::Status ValidateSnapshotName(absl::string_view name) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid snapshot name ", Quote(name), ": ", why,
                     "; use 1-63 letters, digits, '-', '_' and '.', starting with a letter or "
                     "digit"));
  };
  if (name.empty()) return bad("it is empty");
  if (name.size() > 63) return bad("it is longer than 63 characters");
  for (char c : name) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (!absl::ascii_isalnum(u) && c != '-' && c != '_' && c != '.') {
      if (IsControl(u)) return bad("it contains a control character");
      return bad(absl::StrCat("it contains ", Quote(absl::string_view(&c, 1))));
    }
  }
  if (!absl::ascii_isalnum(static_cast<unsigned char>(name.front()))) {
    return bad("it does not start with a letter or digit");
  }
  return absl::OkStatus();
}

absl::Status ValidateTemplateName(absl::string_view name) {
  bool ok = !name.empty() && name.size() <= 64;
  for (char c : name) {
    if (!(absl::ascii_islower(static_cast<unsigned char>(c)) ||
          absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '_')) {
      ok = false;
    }
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid template name ", Quote(name),
        ": use 1-64 lower-case letters, digits, '-' and '_' (for example \"busybox\")"));
  }
  return absl::OkStatus();
}

absl::Status ValidateFreeText(absl::string_view what, absl::string_view value) {
  if (value.size() > 4096) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is longer than 4096 bytes; shorten it"));
  }
  for (char c : value) {
    if (IsControl(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " ", Quote(value),
          " contains a control character (newline, tab, escape...); remove it"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateLabels(const std::map<std::string, std::string>& labels) {
  if (labels.size() > 64) {
    return absl::InvalidArgumentError("a container may carry at most 64 labels");
  }
  for (const auto& [key, value] : labels) {
    bool ok = !key.empty() && key.size() <= 63 &&
              absl::ascii_isalnum(static_cast<unsigned char>(key.front()));
    for (char c : key) {
      if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
            c == '.' || c == '/')) {
        ok = false;
      }
    }
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid label key ", Quote(key),
          ": use 1-63 letters, digits, '-', '_', '.' and '/', starting with a letter or digit"));
    }
    if (auto s = ValidateFreeText(absl::StrCat("label ", Quote(key), " value"), value); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateConfig(const std::map<std::string, std::string>& config) {
  if (config.size() > 256) {
    return absl::InvalidArgumentError("a container may carry at most 256 config keys");
  }
  for (const auto& [key, value] : config) {
    if (auto s = ValidateConfigEntry(key, value); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ValidateTemplateArgs(const std::vector<std::string>& args) {
  if (args.size() > 32) return absl::InvalidArgumentError("at most 32 template arguments");
  for (const auto& arg : args) {
    if (auto s = ValidateFreeText("template argument", arg); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace berth::core
