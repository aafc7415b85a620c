#include "lxc/proc_net.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "lxc/string_views.h"

namespace berth::runtime::lxc {
namespace {

void AddUnique(std::vector<std::string>& out, std::string value) {
  if (std::find(out.begin(), out.end(), value) == out.end()) out.push_back(std::move(value));
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::vector<std::string> ParseFibTrieLocalAddresses(std::string_view text) {
  std::vector<std::string> out;
  absl::string_view pending;  // the address of the last "|--" leaf line
  for (absl::string_view line : absl::StrSplit(ToAbsl(text), '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (absl::ConsumePrefix(&line, "|--")) {
      pending = absl::StripAsciiWhitespace(line);
      continue;
    }
    if (!pending.empty() && absl::StartsWith(line, "/32 host LOCAL")) {
      in_addr addr;
      const std::string candidate(pending);
      if (::inet_pton(AF_INET, candidate.c_str(), &addr) == 1 &&
          (ntohl(addr.s_addr) >> 24) != 127) {
        AddUnique(out, candidate);
      }
      continue;
    }
    if (!absl::StartsWith(line, "/")) pending = {};
  }
  return out;
}

std::vector<std::string> ParseIfInet6Addresses(std::string_view text) {
  constexpr unsigned kScopeLinkLocal = 0x20;
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(ToAbsl(text), '\n', absl::SkipWhitespace())) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (fields.size() < 6 || fields[0].size() != 32) continue;
    if (fields[5] == "lo") continue;
    unsigned scope = 0;
    if (!absl::SimpleHexAtoi(fields[3], &scope) || scope == kScopeLinkLocal) continue;
    in6_addr addr;
    bool ok = true;
    for (size_t i = 0; i < 16; ++i) {
      const int hi = HexValue(fields[0][2 * i]);
      const int lo = HexValue(fields[0][2 * i + 1]);
      if (hi < 0 || lo < 0) {
        ok = false;
        break;
      }
      addr.s6_addr[i] = static_cast<uint8_t>(hi * 16 + lo);
    }
    if (!ok || IN6_IS_ADDR_LOOPBACK(&addr) || IN6_IS_ADDR_LINKLOCAL(&addr)) continue;
    char buf[INET6_ADDRSTRLEN];
    if (::inet_ntop(AF_INET6, &addr, buf, sizeof(buf)) == nullptr) continue;
    AddUnique(out, buf);
  }
  return out;
}

}  // namespace berth::runtime::lxc
