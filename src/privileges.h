// Dropping root after the sockets are bound and the secrets are read.
#pragma once

#include <string>

// Switches to user (and group, default: the user's primary group), clears
// supplementary groups, and checks that root cannot be regained. Empty user
// and group: nothing to do. false with err on any failure.
bool drop_privileges(const std::string& user, const std::string& group, std::string& err);
