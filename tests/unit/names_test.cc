// Unit tests for the one name/tag rule (src/names.{h,cc}) and the one
// "same address" rule (src/address.{h,cc}).
#include "names.h"

#include <gtest/gtest.h>

#include "address.h"

namespace {

TEST(Names, PrintableOneToSixtyFour) {
  EXPECT_TRUE(valid_name("alice"));
  EXPECT_TRUE(valid_name("site-b.example_1"));
  EXPECT_TRUE(valid_name(std::string(64, 'x')));
  EXPECT_FALSE(valid_name(""));
  EXPECT_FALSE(valid_name(std::string(65, 'x')));
  EXPECT_FALSE(valid_name("a b"));
  EXPECT_FALSE(valid_name("a\tb"));
  EXPECT_FALSE(valid_name(std::string("a\x01", 2)));
  EXPECT_FALSE(valid_name("caf\xc3\xa9"));
  EXPECT_FALSE(valid_name(std::string("a\0b", 3)));
}

TEST(SameAddress, WildcardsPerFamily) {
  EXPECT_TRUE(is_wildcard(""));
  EXPECT_TRUE(is_wildcard("0.0.0.0"));
  EXPECT_TRUE(is_wildcard("::"));
  EXPECT_FALSE(is_wildcard("127.0.0.1"));
  EXPECT_TRUE(same_address("", "0.0.0.0"));
  EXPECT_TRUE(same_address("::", "::"));
  EXPECT_FALSE(same_address("", "::")) << "IPv4 and IPv6 wildcards are different binds";
  EXPECT_FALSE(same_address("0.0.0.0", "127.0.0.1"));
}

TEST(SameAddress, LiteralsByValue) {
  EXPECT_TRUE(same_address("::1", "0:0::1"));
  EXPECT_TRUE(same_address("127.0.0.1", "127.0.0.1"));
  EXPECT_FALSE(same_address("127.0.0.1", "127.0.0.2"));
  EXPECT_FALSE(same_address("::1", "127.0.0.1"));
  EXPECT_EQ(AF_INET, address_family(""));
  EXPECT_EQ(AF_INET6, address_family("fd00::1"));
}

}  // namespace
