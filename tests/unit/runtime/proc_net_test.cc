#include "lxc/proc_net.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::runtime::lxc {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// /proc/<pid>/net/fib_trie of a namespace with lo and eth0 192.0.2.2/24 (Main and Local tables
// both list the local address).
constexpr char kFibTrie[] = R"(Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     +-- 192.0.2.0/24 2 0 2
        +-- 192.0.2.0/30 2 0 2
           |-- 192.0.2.0
              /24 link UNICAST
           |-- 192.0.2.2
              /32 host LOCAL
        |-- 192.0.2.255
           /32 link BROADCAST
Local:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     +-- 192.0.2.0/24 2 0 2
        +-- 192.0.2.0/30 2 0 2
           |-- 192.0.2.0
              /24 link UNICAST
           |-- 192.0.2.2
              /32 host LOCAL
        |-- 192.0.2.255
           /32 link BROADCAST
)";

// Two addresses on one interface plus one on another; a leaf with two prefix lines.
constexpr char kFibTrieTwoInterfaces[] = R"(Local:
  +-- 0.0.0.0/0 3 0 5
     +-- 10.0.3.0/24 2 0 2
        |-- 10.0.3.0
           /24 link UNICAST
        |-- 10.0.3.17
           /24 link UNICAST
           /32 host LOCAL
        |-- 10.0.3.18
           /32 host LOCAL
     |-- 172.16.5.4
        /32 host LOCAL
)";

constexpr char kIfInet6[] =
    "00000000000000000000000000000001 01 80 10 80       lo\n"
    "fe8000000000000000fc00fffe000001 04 40 20 80     eth0\n"
    "fd000000000000000000000000000002 04 40 00 82     eth0\n"
    "20010db8000000000000000000000010 05 40 00 80     eth1\n";

TEST(ParseFibTrieTest, FindsLocalAddressesOnceWithoutLoopback) {
  EXPECT_THAT(ParseFibTrieLocalAddresses(kFibTrie), ElementsAre("192.0.2.2"));
}

TEST(ParseFibTrieTest, FindsEveryLocalAddress) {
  EXPECT_THAT(ParseFibTrieLocalAddresses(kFibTrieTwoInterfaces),
              ElementsAre("10.0.3.17", "10.0.3.18", "172.16.5.4"));
}

TEST(ParseFibTrieTest, LoopbackOnlyOrEmptyGivesNothing) {
  EXPECT_THAT(ParseFibTrieLocalAddresses(""), IsEmpty());
  EXPECT_THAT(ParseFibTrieLocalAddresses("Main:\n  +-- 127.0.0.0/8 2 0 2\n     |-- 127.0.0.1\n"
                                         "        /32 host LOCAL\n"),
              IsEmpty());
  EXPECT_THAT(ParseFibTrieLocalAddresses("garbage\n|-- not-an-ip\n /32 host LOCAL\n"), IsEmpty());
}

TEST(ParseIfInet6Test, FormatsGlobalAddressesWithoutLoopbackOrLinkLocal) {
  EXPECT_THAT(ParseIfInet6Addresses(kIfInet6), ElementsAre("fd00::2", "2001:db8::10"));
}

TEST(ParseIfInet6Test, IgnoresMalformedLines) {
  EXPECT_THAT(ParseIfInet6Addresses(""), IsEmpty());
  EXPECT_THAT(ParseIfInet6Addresses("zz000000000000000000000000000002 04 40 00 82 eth0\n"
                                    "fd00 04 40 00 82 eth0\n"
                                    "fd000000000000000000000000000002 04 40\n"),
              IsEmpty());
}

}  // namespace
}  // namespace berth::runtime::lxc
