#pragma once

// Parsers for the address tables a container's network namespace shows under /proc/<pid>/net.
// Reading them from the host needs no fork or setns (liblxc's get_ips does both).

#include <string>
#include <string_view>
#include <vector>

namespace berth::runtime::lxc {

// The local IPv4 addresses in /proc/<pid>/net/fib_trie text: each "|-- a.b.c.d" leaf followed by
// a "/32 host LOCAL" line. Loopback (127.0.0.0/8) is left out; each address appears once, in the
// order first seen.
std::vector<std::string> ParseFibTrieLocalAddresses(std::string_view text);

// The IPv6 addresses in /proc/<pid>/net/if_inet6 text, in RFC 5952 form. Left out: the loopback
// device and address, and link-local addresses (scope 0x20), which are not useful to reach a
// container by. Each address appears once.
std::vector<std::string> ParseIfInet6Addresses(std::string_view text);

}  // namespace berth::runtime::lxc
