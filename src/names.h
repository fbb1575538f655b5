// The one rule for names and tags that peers and operators give: client
// names ([CLIENTS], AUTH, --name) and tags ([TAG], NAME.TAGS, HELLO,
// --tag). Pure: no I/O.
#pragma once

#include <string>

// 1-64 printable ASCII characters, no spaces or control bytes.
bool valid_name(const std::string& s);
// What valid_name() wants, for messages.
constexpr const char* kNameRule = "1-64 printable characters, no spaces";
