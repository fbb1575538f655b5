// Dropping root after the sockets are bound and the secrets are read.
#pragma once

#include <string>

#include <sys/types.h>

// Switches to user (and group, default: the user's primary group), clears
// supplementary groups, and checks that root cannot be regained. Empty user
// and group: nothing to do. false with err on any failure.
bool drop_privileges(const std::string& user, const std::string& group, std::string& err);

// The ids of user (its primary group unless group is given) and of group:
// uid and gid keep what they hold for an empty user or group. false with
// err naming an unknown user or group.
bool resolve_user_group(const std::string& user, const std::string& group, uid_t& uid, gid_t& gid,
                        std::string& err);
