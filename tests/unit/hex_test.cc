// Unit tests for the hex codec (src/hex.{h,cc}).
#include "hex.h"

#include <gtest/gtest.h>

namespace {

TEST(Hex, Digits) {
  EXPECT_EQ(0, hex_digit('0'));
  EXPECT_EQ(10, hex_digit('a'));
  EXPECT_EQ(15, hex_digit('F'));
  EXPECT_EQ(-1, hex_digit('g'));
  EXPECT_EQ(-1, hex_digit(' '));
}

TEST(Hex, EncodeCaseAndSeparator) {
  const uint8_t b[] = {0x00, 0xab, 0x7f};
  EXPECT_EQ("00ab7f", hex_encode(b, 3));
  EXPECT_EQ("00:AB:7F", hex_encode(b, 3, true, ':'));
  EXPECT_EQ("", hex_encode(b, 0));
}

TEST(Hex, DecodeRoundTrip) {
  std::vector<uint8_t> out;
  ASSERT_TRUE(hex_decode("00aB7F", out));
  EXPECT_EQ((std::vector<uint8_t>{0x00, 0xab, 0x7f}), out);
  EXPECT_EQ("00ab7f", hex_encode(out.data(), out.size()));
}

TEST(Hex, DecodeRefusesOddLengthAndNonHex) {
  std::vector<uint8_t> out;
  EXPECT_FALSE(hex_decode("abc", out));
  EXPECT_FALSE(hex_decode("zz", out));
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(hex_decode("", out));
}

}  // namespace
