#include "lxc/validation.h"

#include <algorithm>
#include <array>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "lxc/string_views.h"

namespace berth::runtime::lxc {
namespace {

constexpr size_t kMaxNameLength = 63;
constexpr size_t kMaxTemplateNameLength = 64;
constexpr size_t kMaxTemplateArgs = 64;
constexpr size_t kMaxTemplateArgLength = 4096;

// Long options liblxc passes to every template; a user argument must not override them.
constexpr std::array<absl::string_view, 5> kReservedLongOptions = {"path", "name", "rootfs",
                                                                   "mapped-uid", "mapped-gid"};

}  // namespace

bool HasControlChars(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

absl::Status ValidateSnapshotName(std::string_view name) {
  const bool ok =
      !name.empty() && name.size() <= kMaxNameLength &&
      absl::ascii_isalnum(static_cast<unsigned char>(name.front())) &&
      std::all_of(name.begin(), name.end(), [](char c) {
        return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
               c == '.';
      });
  if (!ok) {
    return absl::InvalidArgumentError(
        "Snapshot name must be 1-63 letters, digits, '-', '_' and '.', starting with a letter or "
        "digit");
  }
  return absl::OkStatus();
}

absl::Status ValidateContainerName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("Container name must be 1-", kMaxNameLength, " characters long"));
  }
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') {
      return absl::InvalidArgumentError("Container name may contain only letters, digits and '-'");
    }
  }
  if (name.front() == '-' || name.back() == '-') {
    return absl::InvalidArgumentError("Container name must not start or end with '-'");
  }
  if (std::all_of(name.begin(), name.end(),
                  [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); })) {
    return absl::InvalidArgumentError("Container name must not be all digits");
  }
  return absl::OkStatus();
}

absl::Status ValidateTemplateName(std::string_view name) {
  if (name.empty() || name.size() > kMaxTemplateNameLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("Template name must be 1-", kMaxTemplateNameLength, " characters long"));
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) {
      return absl::InvalidArgumentError(
          "Template name may contain only lowercase letters, digits, '_' and '-'");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateTemplateArgs(const std::vector<std::string>& args) {
  if (args.size() > kMaxTemplateArgs) {
    return absl::InvalidArgumentError(
        absl::StrCat("At most ", kMaxTemplateArgs, " template arguments are allowed"));
  }
  for (const std::string& arg : args) {
    if (arg.size() > kMaxTemplateArgLength) {
      return absl::InvalidArgumentError(
          absl::StrCat("Template argument longer than ", kMaxTemplateArgLength, " bytes"));
    }
    if (HasControlChars(arg)) {
      return absl::InvalidArgumentError("Template argument contains a control character");
    }
    if (absl::StartsWith(arg, "--")) {
      absl::string_view option = absl::string_view(arg).substr(2);
      option = option.substr(0, option.find('='));
      if (option.empty()) continue;  // "--" ends the options; what follows is positional.
      for (absl::string_view reserved : kReservedLongOptions) {
        // getopt_long accepts any unambiguous prefix, so refuse prefixes too.
        if (absl::StartsWith(reserved, option)) {
          return absl::InvalidArgumentError(
              absl::StrCat("Template argument \"", arg, "\" would override --", reserved));
        }
      }
    } else if (arg.size() > 1 && arg[0] == '-') {
      if (arg.find_first_of("pn", 1) != std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat(
            "Template argument \"", arg, "\" would override the container's path or name"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace berth::runtime::lxc
