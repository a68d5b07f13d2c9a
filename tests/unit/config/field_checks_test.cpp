#include "config/field_checks.h"

#include <gtest/gtest.h>

#include <string>

using kvlb::config::listen_problem;
using kvlb::config::name_problem;

TEST(NameProblem, AcceptsPrintableUtf8UpTo253Bytes) {
  for (const std::string& name : {std::string("default/tcp-lb"), std::string("a"), std::string(253, 'x'),
                                  std::string("ns/caf\xc3\xa9"), std::string("ns/\xe2\x82\xac"),
                                  std::string("ns/\xf0\x9f\x98\x80"), std::string("ns/with space")})
    EXPECT_FALSE(name_problem(name)) << name;
}

TEST(NameProblem, RefusesEmptyAndTooLong) {
  EXPECT_EQ(name_problem(""), "must not be empty");
  EXPECT_EQ(name_problem(std::string(254, 'x')), "must be at most 253 bytes (got 254)");
  // 127 two-byte characters: 254 bytes.
  std::string accents;
  for (int i = 0; i < 127; ++i) accents += "\xc3\xa9";
  EXPECT_EQ(name_problem(accents), "must be at most 253 bytes (got 254)");
}

TEST(NameProblem, RefusesControlCharacters) {
  EXPECT_EQ(name_problem(std::string("a\0b", 3)), "must not contain control characters (U+0000 at byte 1)");
  EXPECT_EQ(name_problem("a\nb"), "must not contain control characters (U+000A at byte 1)");
  EXPECT_EQ(name_problem("ab\x1f"), "must not contain control characters (U+001F at byte 2)");
  EXPECT_EQ(name_problem("a\x7f"), "must not contain control characters (U+007F at byte 1)");
  EXPECT_EQ(name_problem("a\xc2\x80"), "must not contain control characters (U+0080 at byte 1)");
  EXPECT_EQ(name_problem("a\xc2\x9f"), "must not contain control characters (U+009F at byte 1)");
  EXPECT_FALSE(name_problem("a\xc2\xa0"));  // U+00A0 is not a control character
}

TEST(NameProblem, RefusesInvalidUtf8) {
  for (const char* bad : {"\xff", "a\x80", "\xc3", "\xc3(", "\xe2\x82", "\xc0\xaf", "\xe0\x80\xaf",
                          "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80"})
    EXPECT_EQ(name_problem(bad).value_or("").rfind("is not valid UTF-8 (at byte ", 0), 0u) << bad;
  EXPECT_EQ(name_problem("ok\xff"), "is not valid UTF-8 (at byte 2)");
}

TEST(ListenProblem, AcceptsOffAndAddressesWithPorts) {
  for (const char* listen : {"off", "127.0.0.1:7711", "0.0.0.0:65535", "[::1]:1", "[::]:80", "[fd00::1]:7711"})
    EXPECT_FALSE(listen_problem(listen)) << listen;
}

TEST(ListenProblem, RefusesEverythingElse) {
  for (const char* listen : {"", "OFF", "localhost:7711", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536",
                             "127.0.0.1:-1", "127.0.0.1:80x", "::1:80", "[::1]", "[::1]:", "[127.0.0.1]:80",
                             "[]:80", "1.2.3:80", "http://127.0.0.1:80", "127.0.0.1:99999999999999999999"})
    EXPECT_EQ(listen_problem(listen),
              "must be \"off\", IPv4:port or [IPv6]:port with port 1..65535 (got " + std::string(listen) + ")")
        << listen;
}
