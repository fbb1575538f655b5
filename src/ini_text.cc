#include "ini_text.h"

std::string ini_trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string ini_strip_comment(const std::string& s) {
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] == ';' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t')) return s.substr(0, i);
  return s;
}
