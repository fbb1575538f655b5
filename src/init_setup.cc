#include "init_setup.h"

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "address.h"
#include "auth.h"
#include "config.h"
#include "hex.h"
#include "init_config.h"
#include "options.h"
#include "secret_file.h"
#include "self_signed_cert.h"
#include "tls.h"

namespace {

// The packaged daemon's group (debian/tcp-forward.postinst makes it).
constexpr const char* kDaemonGroup = "tcp-forward";
constexpr int kCertDays = 3650;

// Who may read the secret files --init writes.
struct Access {
  gid_t gid = static_cast<gid_t>(-1);  // -1: leave the creator's group
  mode_t mode = 0600;
  std::string group;                   // its name, for the report
};

struct Paths {
  std::string dir;     // absolute, the configuration's folder
  std::string config;  // dir/forward_server.cfg or the file given
  bool config_exists = false;
};

std::string dir_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// A name from the configuration, relative to its folder (as config.cc does).
std::string resolve(const std::string& dir, const std::string& name) {
  if (name[0] == '/') return name;
  return (dir == "/" ? dir : dir + "/") + name;
}

std::string real_path(const std::string& path) {
  char buf[PATH_MAX];
  return realpath(path.c_str(), buf) ? std::string(buf) : path;
}

void error(const std::string& message) {
  fprintf(stderr, "forward-server: --init: %s\n", message.c_str());
}

// target -> the folder and the configuration file; false after an error.
bool find_paths(const std::string& target, Paths& p) {
  std::string t = target.empty() ? kDefaultInitDir : target;
  struct stat st;
  if (stat(t.c_str(), &st) != 0) {
    error(t + ": " + strerror(errno));
    return false;
  }
  if (S_ISDIR(st.st_mode)) {
    p.dir = real_path(t);
    p.config = resolve(p.dir, kConfigFileName);
  } else if (S_ISREG(st.st_mode)) {
    p.config = t;
  } else {
    error(t + ": neither a folder nor a configuration file");
    return false;
  }
  if (stat(p.config.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) {
      error(p.config + ": not a regular file");
      return false;
    }
    // As the server does: names in the file are relative to the folder of
    // the file itself, not of a link to it.
    p.config = real_path(p.config);
    p.dir = dir_of(p.config);
    p.config_exists = true;
  } else if (errno != ENOENT) {
    error(p.config + ": " + strerror(errno));
    return false;
  }
  return true;
}

// Whether files may be given group gid: root may give any, others their own.
bool may_use_group(gid_t gid) {
  if (geteuid() == 0 || getegid() == gid) return true;
  int n = getgroups(0, nullptr);
  std::vector<gid_t> groups(n > 0 ? static_cast<size_t>(n) : 0);
  n = groups.empty() ? 0 : getgroups(n, groups.data());
  for (int i = 0; i < n; ++i)
    if (groups[static_cast<size_t>(i)] == gid) return true;
  return false;
}

// The group the daemon reads its files as: GROUP, else USER's group, else
// the packaged daemon's (if we may give files that group); without one,
// root's group when run as root (the group a root-owned 0640 file has),
// else none (0600: a user's own group may hold other people).
Access secret_access(const ConfigScan& scan) {
  Access a;
  auto get = [&scan](const char* key) {
    auto it = scan.defaults.find(key);
    return it == scan.defaults.end() ? std::string() : it->second;
  };
  std::string group = get("GROUP");
  if (group.empty() && !get("USER").empty()) {
    if (passwd* pw = getpwnam(get("USER").c_str())) {
      if (struct group* gr = getgrgid(pw->pw_gid)) group = gr->gr_name;
    }
  }
  if (group.empty()) group = kDaemonGroup;
  struct group* gr = getgrnam(group.c_str());
  if (gr && may_use_group(gr->gr_gid)) {
    a.gid = gr->gr_gid;
    a.group = group;
    a.mode = 0640;
  } else if (geteuid() == 0) {
    a.gid = 0;
    a.group = getgrgid(0) ? getgrgid(0)->gr_name : "0";
    a.mode = 0640;
  }
  return a;
}

std::string mode_text(mode_t mode) {
  char buf[8];
  snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Writes all of data to fd (when ok), then fsync and close, always closing
// fd; false with err at the first failure.
bool write_sync_close(int fd, const std::string& data, bool ok, std::string& err) {
  size_t done = 0;
  while (ok && done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = strerror(errno);
      ok = false;
    } else {
      done += static_cast<size_t>(n);
    }
  }
  if (ok && fsync(fd) != 0) {
    err = std::string("fsync: ") + strerror(errno);
    ok = false;
  }
  if (close(fd) != 0 && ok) {
    err = strerror(errno);
    ok = false;
  }
  return ok;
}


// Writes data to a file that must not exist (O_EXCL, no link followed),
// its group (unless gid is -1) and mode set before the first byte. On
// failure the file is removed again. EEXIST in exists.
bool write_new_file(const std::string& path, const std::string& data, const Access& access,
                    bool& exists, std::string& err) {
  gid_t gid = access.gid;
  mode_t mode = access.mode;
  exists = false;
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    exists = errno == EEXIST;
    err = strerror(errno);
    return false;
  }
  bool ok = true;
  if (gid != static_cast<gid_t>(-1) && fchown(fd, static_cast<uid_t>(-1), gid) != 0) {
    err = "cannot give it group " + access.group + ": " + strerror(errno);
    ok = false;
  }
  if (ok && fchmod(fd, mode) != 0) {
    err = std::string("chmod: ") + strerror(errno);
    ok = false;
  }
  ok = write_sync_close(fd, data, ok, err);
  if (!ok) unlink(path.c_str());
  return ok;
}

// Replaces path by text: a new file beside it with the same owner and
// mode, then rename(), so a reader sees the old file or the new one.
bool replace_file(const std::string& path, const std::string& text, std::string& err) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    err = strerror(errno);
    return false;
  }
  std::string tmp = path + ".init-XXXXXX";
  int fd = mkstemp(&tmp[0]);
  if (fd < 0) {
    err = std::string("cannot make a file beside it: ") + strerror(errno);
    return false;
  }
  bool ok = true;
  if ((st.st_uid != geteuid() || st.st_gid != getegid()) && fchown(fd, st.st_uid, st.st_gid) != 0) {
    err = std::string("cannot keep its owner: ") + strerror(errno);
    ok = false;
  }
  if (ok && fchmod(fd, st.st_mode & 07777) != 0) {
    err = std::string("cannot keep its mode: ") + strerror(errno);
    ok = false;
  }
  ok = write_sync_close(fd, text, ok, err);
  if (ok && rename(tmp.c_str(), path.c_str()) != 0) {
    err = std::string("rename: ") + strerror(errno);
    ok = false;
  }
  if (!ok) unlink(tmp.c_str());
  return ok;
}

// 32 random bytes as 64 hex digits and a newline: 'openssl rand -hex 32'.
bool make_shared_key(std::string& out) {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return false;
  out = hex_encode(bytes, sizeof bytes) + "\n";
  OPENSSL_cleanse(bytes, sizeof bytes);
  return true;
}

// The host's name and the addresses of its interfaces (IPv6 link-local
// ones left out: they mean nothing without an interface).
void host_identity(std::string& name, std::vector<std::string>& addresses) {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) == 0) name = buf;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return;
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    const sockaddr* sa = i->ifa_addr;
    if (!sa || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)) continue;
    if (sa->sa_family == AF_INET6 &&
        IN6_IS_ADDR_LINKLOCAL(&reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr))
      continue;
    std::string a = format_address(sa);
    bool seen = false;
    for (const auto& b : addresses) seen = seen || b == a;
    if (!seen) addresses.push_back(a);
  }
  freeifaddrs(list);
}

// Files --init made so far, removed again if a later step fails.
struct Made {
  std::vector<std::string> paths;
  bool keep = false;
  ~Made() {
    if (!keep)
      for (const auto& p : paths) unlink(p.c_str());
  }
};

bool exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0 || errno != ENOENT;
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

// What run_init did, for its report.
struct Outcome {
  const Paths& p;
  const InitPlan& plan;
  const std::string& key;  // "" when none is used
  bool keep_key;           // it was there already
  const std::string& cert_key;
  const std::string& cert;
  const Access& access;
  const std::vector<std::string>& names;  // in the certificate
  bool edited;                            // the configuration
  std::string fingerprint;
  std::string host;
};

// Stdout: what was made and changed, the lines to add without a
// configuration file, the fingerprint, and the command for the clients.
void report(const Outcome& o) {
  std::string who = "mode " + mode_text(o.access.mode) +
                    (o.access.group.empty() ? "" : ", group " + o.access.group);
  printf("forward-server --init in %s:\n", o.p.dir.c_str());
  if (!o.key.empty())
    printf("  %s %s  shared key%s\n", o.keep_key ? "kept" : "made", o.key.c_str(),
           o.keep_key ? " (it was there already)" : (", 64 hex digits, " + who).c_str());
  printf("  made %s  TLS private key, ECDSA P-256, %s\n", o.cert_key.c_str(), who.c_str());
  printf("  made %s  self-signed TLS certificate for %s, valid %d years, mode 0644\n",
         o.cert.c_str(), join(o.names, ", ").c_str(), kCertDays / 365);
  std::vector<std::string> lines;
  for (const auto& l : o.plan.add) lines.push_back(l.key + " = " + l.value);
  if (o.edited) {
    printf("  added to %s: %s\n", o.p.config.c_str(), join(lines, ", ").c_str());
  } else if (o.p.config_exists) {
    printf("  %s names these files already: not changed\n", o.p.config.c_str());
  } else {
    printf("\nThere is no %s: add these lines to the [DEFAULT] section of the configuration:\n",
           o.p.config.c_str());
    for (const auto& l : o.plan.add)
      printf("  %s = %s\n", l.key.c_str(), resolve(o.p.dir, l.value).c_str());
  }
  printf("\nTLS certificate fingerprint: %s\n\n", o.fingerprint.c_str());
  if (o.plan.auth_none)
    printf("AUTH = none: clients need no key. On each client host run:\n");
  else if (o.plan.clients_only)
    printf("Clients use their own [CLIENTS] keys. On each client host run, with its NAME and key:\n");
  else
    printf("Copy %s to each client host as client.key (mode 0600), then run there:\n", o.key.c_str());
  std::string host = client_host(o.plan.inner_addr, o.host);
  printf("  %s\n", client_command(o.plan, host, o.fingerprint).c_str());
  if (o.plan.mutual_tls)
    printf("(TLS_CLIENT_CA is set: each client also needs its certificate, --cert and --cert-key.)\n");
}

// The files --init makes, resolved, refused before anything is made (all
// or nothing). 0 or the exit status after saying why.
struct Targets {
  std::string cert, cert_key, key;  // key: "" when none is used
  bool keep_key = false;            // the shared key is there already
};

int find_targets(const Paths& p, const InitPlan& plan, Targets& t) {
  std::string err;
  t.cert = resolve(p.dir, plan.cert_file);
  t.cert_key = resolve(p.dir, plan.cert_key_file);
  t.key = plan.key_file.empty() ? "" : resolve(p.dir, plan.key_file);
  if (t.cert == t.cert_key || t.cert == t.key || t.cert_key == t.key) {
    error(p.config + ": TLS_CERT, TLS_KEY and AUTH_KEY_FILE must name three files");
    return kExitConfig;
  }
  for (const std::string& f : {t.cert, t.cert_key})
    if (exists(f)) {
      error(f + " exists already; nothing was changed (move it away to make a new one)");
      return kExitCantCreate;
    }
  t.keep_key = !t.key.empty() && exists(t.key);
  if (t.keep_key) {
    Key k;
    if (!load_key_file(t.key, k, err)) {
      error("the shared key " + t.key + " is there but cannot be used: " + err);
      return kExitConfig;
    }
  }
  return 0;
}

// Writes the shared key (unless kept), the TLS key and the certificate,
// each new (O_EXCL); files lists them for removal should a later step
// fail. 0 or the exit status after saying why.
int write_files(const Targets& t, SelfSignedCert& made, const Access& access, Made& files) {
  std::string err;
  bool clash = false;
  auto write = [&](const std::string& path, const std::string& data, const Access& a) {
    if (write_new_file(path, data, a, clash, err)) {
      files.paths.push_back(path);
      return true;
    }
    error("cannot write " + path + ": " + err);
    return false;
  };
  if (!t.key.empty() && !t.keep_key) {
    std::string secret;
    if (!make_shared_key(secret)) {
      error("no random bytes for the key: " + openssl_error_text());
      return 1;
    }
    bool ok = write(t.key, secret, access);
    wipe_secret(secret);
    if (!ok) return clash ? kExitCantCreate : 1;
  }
  bool ok = write(t.cert_key, made.key_pem, access);
  wipe_secret(made.key_pem);
  if (!ok || !write(t.cert, made.cert_pem, Access{static_cast<gid_t>(-1), 0644, ""}))
    return clash ? kExitCantCreate : 1;
  return 0;
}

}  // namespace

int run_init(const std::string& target) {
  Paths p;
  if (!find_paths(target, p)) return 1;
  std::string text, err;
  if (p.config_exists && !read_file(p.config, text, err)) {
    error(p.config + ": " + err);
    return 1;
  }
  ConfigScan scan = scan_config(text);
  InitPlan plan;
  if (!plan_init(scan, plan, err)) {
    error(p.config + ": " + err);
    return kExitConfig;
  }
  Targets t;
  if (int status = find_targets(p, plan, t)) return status;
  std::string host;
  std::vector<std::string> addresses;
  host_identity(host, addresses);
  std::vector<std::string> dns;
  if (is_valid_hostname(host)) dns.push_back(host);
  SelfSignedCert made;
  if (!make_self_signed_cert(host.empty() ? "tcp-forward" : host, dns, addresses, kCertDays, made,
                             err)) {
    error(err);
    return 1;
  }
  Access access = secret_access(scan);
  Made files;
  if (int status = write_files(t, made, access, files)) return status;
  bool edited = false;
  if (p.config_exists && !plan.add.empty()) {
    if (!replace_file(p.config, add_default_lines(text, plan.add), err)) {
      error("cannot update " + p.config + ": " + err + "; nothing was changed");
      return 1;
    }
    edited = true;
  }
  files.keep = true;
  std::vector<std::string> names = dns;
  names.insert(names.end(), addresses.begin(), addresses.end());
  report(Outcome{p, plan, t.key, t.keep_key, t.cert_key, t.cert, access, names, edited,
                 format_fingerprint(made.fingerprint), host.empty() ? "SERVER_HOST" : host});
  return 0;
}
