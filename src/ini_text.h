// inih's rules for the text of one line, shared by the configuration
// parser (config.cc) and forward-server --init's editor (init_config.cc).
// Pure.
#pragma once

#include <string>

// s without leading and trailing blanks (space, tab, CR, LF).
std::string ini_trim(const std::string& s);
// s up to an inline comment: ';' at the start or after a space or tab.
std::string ini_strip_comment(const std::string& s);
