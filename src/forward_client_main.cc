// forward-client: argv -> dial the server -> event loop. No config file.
#include <getopt.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

#include "address.h"
#include "auth.h"
#include "alloc_tuning.h"
#include "client.h"
#include "daemon.h"
#include "ev.h"
#include "log.h"
#include "privileges.h"
#include "signals.h"
#include "tls.h"

namespace {

constexpr int kExitUsage = 64;   // EX_USAGE
constexpr int kExitConfig = 78;  // EX_CONFIG: a bad key or certificate
constexpr const char* kDefaultKeyFile = SYSCONFDIR "/tcp-forward/client.key";

void usage(FILE* out) {
  fprintf(out,
          "usage: forward-client [options] SERVER_HOST SERVER_PORT\n"
          "\n"
          "Keeps one channel open to forward-server at SERVER_HOST:SERVER_PORT (its\n"
          "INNER_PORT) and connects inner targets when the server asks.\n"
          "\n"
          "options:\n"
          "      --key-file PATH            shared key (hex or base64, >= 32 bytes) proving who we are\n"
          "                                 (default " SYSCONFDIR "/tcp-forward/client.key if it exists)\n"
          "      --no-auth                  connect to a server with AUTH = none (no key)\n"
          "      --name NAME                client name the server looks up in its [CLIENTS] keys\n"
          "      --tls                      use TLS; the server certificate is verified against the\n"
          "                                 system trust store and SERVER_HOST unless told otherwise\n"
          "      --ca-file PATH             verify the server against this CA bundle (implies --tls)\n"
          "      --fingerprint SHA256:HEX   accept only the server certificate with this SHA-256\n"
          "                                 fingerprint, CA and name not checked (implies --tls)\n"
          "      --server-name NAME         name to send (SNI) and verify instead of SERVER_HOST\n"
          "      --cert PATH                client certificate for mutual TLS (implies --tls)\n"
          "      --cert-key PATH            its private key (default: the --cert file)\n"
          "      --allow TARGET             only connect targets matching TARGET (repeatable):\n"
          "                                 10.0.0.0/8, 10.0.0.5:22, 10.0.0.0/24:8000-9000,\n"
          "                                 [fd00::/64]:22, db.internal:5432, *.corp.example;\n"
          "                                 without --allow the client trusts its server fully\n"
          "      --max-streams N            refuse (resource_limit) the server's OPENs beyond N\n"
          "                                 streams on the channel (default 10000)\n"
          "      --max-udp-sessions N       likewise for UDP sessions (default 4096)\n"
          "      --max-pending-bytes SIZE   early data held for targets still connecting, all\n"
          "                                 streams together; a stream whose data would pass it\n"
          "                                 is reset (default 16M; suffixes K, M, G)\n"
          "      --user USER                drop root privileges to USER after reading keys\n"
          "      --tag NAME                 serve the server's mappings of this tag (default 'default')\n"
          "      --retry-delay SECONDS      first wait before reconnecting (default 1); it doubles\n"
          "                                 after each failed attempt, with jitter\n"
          "      --retry-max SECONDS        longest wait between attempts (default 30)\n"
          "      --no-reconnect             exit (status 1) when the channel cannot be had or ends\n"
          "      --heartbeat SECONDS        ping the server this often; declare it dead after 3\n"
          "                                 silent intervals (default 10, 0: off)\n"
          "      --connect-timeout SECONDS  bound on connecting the server and targets (default 10)\n"
          "      --log-level LEVEL          debug, info, notice, warning or error (default info)\n"
          "  -v, --verbose                  log at debug level\n"
          "      --syslog                   log to syslog (facility daemon) instead of stderr\n"
          "      --daemon                   detach into the background (implies --syslog)\n"
          "      --pid-file PATH            write the process id to PATH\n"
          "  -h, --help                     show this help and exit\n"
          "      --version                  show the version and exit\n"
          "\n"
          "signals: TERM/INT stop (streams get up to 10 s to finish), USR1 (and HUP: there is\n"
          "no configuration to reload) logs the status and, while waiting to reconnect,\n"
          "retries at once.\n"
          "exit status: 0 ok, 1 runtime failure, 64 usage, 78 bad key or certificate.\n");
}

bool parse_seconds(const char* text, int& out, long min = 1) {
  char* end;
  long v = strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || v < min || v > 3600) return false;
  out = static_cast<int>(v);
  return true;
}

// A count in [1, 10,000,000].
bool parse_count(const char* text, size_t& out) {
  char* end;
  errno = 0;
  unsigned long long v = strtoull(text, &end, 10);
  if (*text < '0' || *text > '9' || *end != '\0' || errno || v < 1 || v > 10000000) return false;
  out = static_cast<size_t>(v);
  return true;
}

// Bytes, with an optional K, M or G suffix (powers of 1024), at most 1T.
bool parse_size(const char* text, size_t& out) {
  char* end;
  errno = 0;
  unsigned long long v = strtoull(text, &end, 10);
  if (*text < '0' || *text > '9' || errno) return false;
  int shift = 0;
  switch (*end) {
    case '\0': break;
    case 'k': case 'K': shift = 10; break;
    case 'm': case 'M': shift = 20; break;
    case 'g': case 'G': shift = 30; break;
    default: return false;
  }
  if (*end && end[1] != '\0') return false;
  if (v > (1ULL << 40) >> shift) return false;
  out = static_cast<size_t>(v << shift);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  ClientOptions opts;
  bool use_syslog = false;
  bool no_auth = false;
  bool daemon_mode = false;
  std::string pid_file;
  std::string key_file, name, user;
  LogLevel level = LogLevel::info;
  enum {
    kKeyFile = 256, kNoAuth, kName, kTls, kCaFile, kFingerprint, kServerName, kCert, kCertKey, kUser,
    kAllow, kTag, kRetryMax, kNoReconnect, kHeartbeat, kDaemon, kPidFile,
    kMaxStreams, kMaxUdpSessions, kMaxPendingBytes,
  };
  static const option long_opts[] = {
      {"key-file", required_argument, nullptr, kKeyFile},
      {"no-auth", no_argument, nullptr, kNoAuth},
      {"name", required_argument, nullptr, kName},
      {"tls", no_argument, nullptr, kTls},
      {"ca-file", required_argument, nullptr, kCaFile},
      {"fingerprint", required_argument, nullptr, kFingerprint},
      {"server-name", required_argument, nullptr, kServerName},
      {"cert", required_argument, nullptr, kCert},
      {"cert-key", required_argument, nullptr, kCertKey},
      {"user", required_argument, nullptr, kUser},
      {"allow", required_argument, nullptr, kAllow},
      {"tag", required_argument, nullptr, kTag},
      {"retry-max", required_argument, nullptr, kRetryMax},
      {"no-reconnect", no_argument, nullptr, kNoReconnect},
      {"heartbeat", required_argument, nullptr, kHeartbeat},
      {"daemon", no_argument, nullptr, kDaemon},
      {"pid-file", required_argument, nullptr, kPidFile},
      {"max-streams", required_argument, nullptr, kMaxStreams},
      {"max-udp-sessions", required_argument, nullptr, kMaxUdpSessions},
      {"max-pending-bytes", required_argument, nullptr, kMaxPendingBytes},
      {"retry-delay", required_argument, nullptr, 'r'},
      {"connect-timeout", required_argument, nullptr, 't'},
      {"log-level", required_argument, nullptr, 'l'},
      {"verbose", no_argument, nullptr, 'v'},
      {"syslog", no_argument, nullptr, 'S'},
      {"help", no_argument, nullptr, 'h'},
      {"version", no_argument, nullptr, 'V'},
      {nullptr, 0, nullptr, 0},
  };
  int c;
  while ((c = getopt_long(argc, argv, "vh", long_opts, nullptr)) != -1) {
    switch (c) {
      case kTag:
        opts.tag = optarg;
        if (opts.tag.empty() || opts.tag.size() > frame::kMaxTag ||
            opts.tag.find_first_of(" \t\r\n") != std::string::npos) {
          fprintf(stderr, "forward-client: --tag: 1-64 printable characters, no spaces\n");
          return kExitUsage;
        }
        break;
      case kRetryMax:
        if (!parse_seconds(optarg, opts.retry_max_sec)) {
          fprintf(stderr, "forward-client: --retry-max: bad value '%s' (1-3600 seconds)\n", optarg);
          return kExitUsage;
        }
        break;
      case kNoReconnect: opts.reconnect = false; break;
      case kHeartbeat:
        if (!parse_seconds(optarg, opts.heartbeat_sec, 0)) {
          fprintf(stderr, "forward-client: --heartbeat: bad value '%s' (0-3600 seconds)\n", optarg);
          return kExitUsage;
        }
        break;
      case kMaxStreams:
        if (!parse_count(optarg, opts.max_streams)) {
          fprintf(stderr, "forward-client: --max-streams: bad value '%s' (1-10000000)\n", optarg);
          return kExitUsage;
        }
        break;
      case kMaxUdpSessions:
        if (!parse_count(optarg, opts.max_udp_sessions)) {
          fprintf(stderr, "forward-client: --max-udp-sessions: bad value '%s' (1-10000000)\n",
                  optarg);
          return kExitUsage;
        }
        break;
      case kMaxPendingBytes:
        if (!parse_size(optarg, opts.max_pending_bytes)) {
          fprintf(stderr,
                  "forward-client: --max-pending-bytes: bad value '%s' (bytes, or with a K, M or "
                  "G suffix: 16M)\n",
                  optarg);
          return kExitUsage;
        }
        break;
      case kDaemon: daemon_mode = use_syslog = true; break;
      case kPidFile: pid_file = absolute_path(optarg); break;
      case 'r':
        if (!parse_seconds(optarg, opts.retry_min_sec)) {
          fprintf(stderr, "forward-client: --retry-delay: bad value '%s' (1-3600 seconds)\n", optarg);
          return kExitUsage;
        }
        break;
      case 't':
        if (!parse_seconds(optarg, opts.connect_timeout_sec)) {
          fprintf(stderr, "forward-client: --connect-timeout: bad value '%s' (1-3600 seconds)\n",
                  optarg);
          return kExitUsage;
        }
        break;
      case 'l':
        if (!parse_log_level(optarg, level)) {
          fprintf(stderr, "forward-client: --log-level: bad value '%s'\n", optarg);
          return kExitUsage;
        }
        break;
      case kKeyFile: key_file = optarg; break;
      case kNoAuth: no_auth = true; break;
      case kName:
        name = optarg;
        if (name.empty() || name.size() > frame::kMaxClientName ||
            name.find_first_of(" \t\r\n") != std::string::npos) {
          fprintf(stderr, "forward-client: --name: 1-64 printable characters, no spaces\n");
          return kExitUsage;
        }
        break;
      case kTls: opts.tls.enabled = true; break;
      case kCaFile: opts.tls.enabled = true; opts.tls.ca_file = optarg; break;
      case kFingerprint: {
        std::string err;
        if (!parse_fingerprint(optarg, opts.tls.fingerprint, err)) {
          fprintf(stderr, "forward-client: --fingerprint: %s\n", err.c_str());
          return kExitUsage;
        }
        opts.tls.enabled = true;
        break;
      }
      case kServerName: opts.tls.server_name = optarg; break;
      case kCert: opts.tls.enabled = true; opts.tls.cert = optarg; break;
      case kCertKey: opts.tls.cert_key = optarg; break;
      case kUser: user = optarg; break;
      case kAllow: {
        std::string err;
        if (!opts.allow.add(optarg, err)) {
          fprintf(stderr, "forward-client: --allow: %s\n", err.c_str());
          return kExitUsage;
        }
        break;
      }
      case 'v': level = LogLevel::debug; break;
      case 'S': use_syslog = true; break;
      case 'h': usage(stdout); return 0;
      case 'V': printf("forward-client (tcp-forward) %s\n", PACKAGE_VERSION); return 0;
      default: usage(stderr); return kExitUsage;
    }
  }
  if (optind != argc - 2) {
    fprintf(stderr, "forward-client: expected SERVER_HOST SERVER_PORT\n");
    usage(stderr);
    return kExitUsage;
  }
  opts.server_host = argv[optind];
  if (opts.server_host.size() > 2 && opts.server_host.front() == '[' && opts.server_host.back() == ']')
    opts.server_host = opts.server_host.substr(1, opts.server_host.size() - 2);
  if (!parse_port(argv[optind + 1], opts.server_port)) {
    fprintf(stderr, "forward-client: bad SERVER_PORT '%s' (1-65535)\n", argv[optind + 1]);
    return kExitUsage;
  }

  // Keys and certificates: read now, before any privilege drop.
  auto auth = std::make_shared<AuthSettings>();
  auth->name = name;
  if (no_auth && !key_file.empty()) {
    fprintf(stderr, "forward-client: --no-auth and --key-file exclude each other\n");
    return kExitUsage;
  }
  if (no_auth) {
    auth->enabled = false;
  } else {
    if (key_file.empty() && access(kDefaultKeyFile, F_OK) == 0) key_file = kDefaultKeyFile;
    if (key_file.empty()) {
      fprintf(stderr,
              "forward-client: no key: give --key-file PATH (the server's AUTH_KEY_FILE key), "
              "or --no-auth for a server with AUTH = none\n");
      return kExitConfig;
    }
    std::string err;
    if (!load_key_file(key_file, auth->key, err)) {
      fprintf(stderr, "forward-client: --key-file %s: %s\n", key_file.c_str(), err.c_str());
      return kExitConfig;
    }
  }
  opts.auth = auth;
  if (opts.tls.enabled) {
    std::string err;
    SslCtxPtr ctx = make_client_tls(opts.tls, err);
    if (!ctx) {
      fprintf(stderr, "forward-client: TLS: %s\n", err.c_str());
      return kExitConfig;
    }
    opts.tls_ctx.reset(ctx.release(), SSL_CTX_free);
  } else if (!opts.tls.server_name.empty() || !opts.tls.cert_key.empty()) {
    fprintf(stderr, "forward-client: --server-name and --cert-key need --tls\n");
    return kExitUsage;
  }

  if (opts.retry_max_sec < opts.retry_min_sec) opts.retry_max_sec = opts.retry_min_sec;

  log_init("forward-client", use_syslog, level);
  ignore_sigpipe();
  tune_allocator();
  std::string err;
  if (daemon_mode && !daemonize(err)) fatalx("cannot become a daemon: %s", err.c_str());
  if (!pid_file.empty() && !write_pid_file(pid_file, err)) fatalx("pid file: %s", err.c_str());
  EventBasePtr base(event_base_new());
  if (!base) fatalx("cannot create the event loop");
  int exit_status = 0;
  ForwardClient client(base.get(), opts, [&](int status) {
    exit_status = status;
    event_base_loopexit(base.get(), nullptr);
  });
  if (!client.start(err)) {
    log_error("%s", err.c_str());
    remove_pid_file(pid_file);
    return 1;
  }
  if (!drop_privileges(user, "", err)) {
    log_error("cannot drop privileges: %s", err.c_str());
    return 1;
  }
  daemon_ready();
  SignalSet signals(base.get());
  bool stopping = false;
  auto stop = [&] {
    if (stopping) {
      event_base_loopexit(base.get(), nullptr);
      return;
    }
    stopping = true;
    log_notice("shutting down");
    client.shutdown();
  };
  signals.on(SIGTERM, stop);
  signals.on(SIGINT, stop);
  signals.on(SIGUSR1, [&] { client.poke(); });
  // Nothing to reload (no config file); HUP must not kill the client.
  signals.on(SIGHUP, [&] { client.poke(); });
  log_notice("forward-client %s started; targets allowed: %s; at most %zu streams, %zu UDP "
             "sessions, %zu bytes of early data pending",
             PACKAGE_VERSION, opts.allow.str().c_str(), opts.max_streams, opts.max_udp_sessions,
             opts.max_pending_bytes);
  event_base_dispatch(base.get());
  remove_pid_file(pid_file);
  return exit_status;
}
