// Hex text <-> bytes, for keys, fingerprints and log lines. Pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

// 0-15 for a hex digit (either case), -1 otherwise.
int hex_digit(char c);
// "0a1b..." (lower case), or upper case; sep, when not '\0', goes between bytes.
std::string hex_encode(const uint8_t* p, size_t n, bool upper = false, char sep = '\0');
// Whole text as hex pairs (either case, no separators); false if odd or not hex.
bool hex_decode(const std::string& text, std::vector<uint8_t>& out);
