#include "privileges.h"

#include <cerrno>
#include <cstring>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

bool resolve_user_group(const std::string& user, const std::string& group, uid_t& uid, gid_t& gid,
                        std::string& err) {
  if (!user.empty()) {
    passwd* pw = getpwnam(user.c_str());
    if (!pw) {
      err = "unknown user '" + user + "'";
      return false;
    }
    uid = pw->pw_uid;
    gid = pw->pw_gid;
  }
  if (!group.empty()) {
    struct group* gr = getgrnam(group.c_str());
    if (!gr) {
      err = "unknown group '" + group + "'";
      return false;
    }
    gid = gr->gr_gid;
  }
  return true;
}

bool drop_privileges(const std::string& user, const std::string& group, std::string& err) {
  if (user.empty() && group.empty()) return true;
  // A group alone would leave uid 0 (config.cc refuses it too).
  if (user.empty()) {
    err = "group '" + group + "' without a user would keep running as root";
    return false;
  }
  uid_t uid = getuid();
  gid_t gid = getgid();
  if (!resolve_user_group(user, group, uid, gid, err)) return false;
  if (geteuid() != 0) {
    if (uid == geteuid() && gid == getegid()) return true;  // already there
    err = "switching to user '" + user + "' needs root";
    return false;
  }
  if (setgroups(1, &gid) != 0) {
    err = std::string("setgroups: ") + strerror(errno);
    return false;
  }
  if (setresgid(gid, gid, gid) != 0) {
    err = std::string("setresgid: ") + strerror(errno);
    return false;
  }
  if (setresuid(uid, uid, uid) != 0) {
    err = std::string("setresuid: ") + strerror(errno);
    return false;
  }
  // Paranoia (OpenSSH permanently_set_uid): root must be gone for good.
  if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
    err = "could regain root after dropping privileges";
    return false;
  }
  return true;
}
