// forward-server: argv -> config -> listeners -> (daemon) -> signals -> loop.
#include <getopt.h>

#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

#include "alloc_tuning.h"
#include "config.h"
#include "daemon.h"
#include "ev.h"
#include "log.h"
#include "privileges.h"
#include "secrets.h"
#include "server.h"
#include "signals.h"

namespace {

constexpr int kExitUsage = 64;   // EX_USAGE
constexpr int kExitConfig = 78;  // EX_CONFIG

void usage(FILE* out) {
  fprintf(out,
          "usage: forward-server [options] CONFIG\n"
          "\n"
          "Accepts forward-client channels on INNER_PORT and forwards every public port\n"
          "in CONFIG's [MAPPER] through them to inner host:port targets. Keys, TLS\n"
          "(TLS_CERT, TLS_KEY), rules, tags and limits are set in CONFIG: see\n"
          "forward_server.cfg(5).\n"
          "\n"
          "options:\n"
          "  -n, --check           check the configuration (and its key and certificate\n"
          "                        files), print 'configuration OK', exit\n"
          "  -v, --verbose         log at debug level (overrides LOG_LEVEL)\n"
          "      --syslog          log to syslog (facility daemon) instead of stderr\n"
          "      --daemon          detach into the background (implies --syslog)\n"
          "      --pid-file PATH   write the process id to PATH (overrides PID_FILE)\n"
          "  -h, --help            show this help and exit\n"
          "      --version         show the version and exit\n"
          "\n"
          "signals: HUP reloads CONFIG (a bad one is refused and the running one kept;\n"
          "channels whose key or tag it revokes are closed),\n"
          "TERM/INT stop accepting and let streams finish for up to DRAIN_TIMEOUT seconds,\n"
          "USR1 logs the status (channels, mappings, streams, bytes).\n"
          "exit status: 0 ok, 1 runtime failure (e.g. a port in use), 64 usage, 78 bad config.\n");
}

// Loads config and secrets; on failure fills errors.
bool load_all(const std::string& path, ServerConfig& config, ServerSecrets& secrets,
              std::vector<ConfigError>& errors) {
  if (!load_server_config(path, config, errors)) return false;
  return load_server_secrets(config, secrets, errors);
}

}  // namespace

int main(int argc, char** argv) {
  bool check_only = false, verbose = false, use_syslog = false, daemon_mode = false;
  std::string pid_file_opt;
  enum { kSyslog = 256, kVersion, kDaemon, kPidFile };
  static const option long_opts[] = {
      {"check", no_argument, nullptr, 'n'},        {"verbose", no_argument, nullptr, 'v'},
      {"syslog", no_argument, nullptr, kSyslog},   {"daemon", no_argument, nullptr, kDaemon},
      {"pid-file", required_argument, nullptr, kPidFile},
      {"help", no_argument, nullptr, 'h'},         {"version", no_argument, nullptr, kVersion},
      {nullptr, 0, nullptr, 0},
  };
  int c;
  while ((c = getopt_long(argc, argv, "nvh", long_opts, nullptr)) != -1) {
    switch (c) {
      case 'n': check_only = true; break;
      case 'v': verbose = true; break;
      case kSyslog: use_syslog = true; break;
      case kDaemon: daemon_mode = use_syslog = true; break;
      case kPidFile: pid_file_opt = optarg; break;
      case 'h': usage(stdout); return 0;
      case kVersion: printf("forward-server (tcp-forward) %s\n", PACKAGE_VERSION); return 0;
      default: usage(stderr); return kExitUsage;
    }
  }
  if (optind != argc - 1) {
    fprintf(stderr, "forward-server: expected exactly one CONFIG file argument\n");
    usage(stderr);
    return kExitUsage;
  }
  // Absolute, so relative file names in it still resolve after chdir("/")
  // and on reload.
  std::string path = argv[optind];
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved)) path = resolved;

  ServerConfig config;
  ServerSecrets secrets;
  std::vector<ConfigError> errors;
  if (!load_all(path, config, secrets, errors)) {
    for (const auto& e : errors) fprintf(stderr, "%s\n", e.str().c_str());
    fprintf(stderr, "forward-server: %zu error%s in configuration, not started\n", errors.size(),
            errors.size() == 1 ? "" : "s");
    return kExitConfig;
  }
  if (check_only) {
    if (config.auth_none) printf("warning: AUTH = none: clients are not authenticated\n");
    printf("configuration OK\n");
    return 0;
  }
  std::string pid_file = pid_file_opt.empty() ? config.pid_file : absolute_path(pid_file_opt);

  log_init("forward-server", use_syslog, verbose ? LogLevel::debug : config.log_level);
  ignore_sigpipe();
  tune_allocator();
  EventBasePtr base(event_base_new());
  if (!base) fatalx("cannot create the event loop");

  ForwardServer server(base.get(), config, std::move(secrets));
  std::string err;
  if (!server.start(err)) {
    log_error("%s", err.c_str());
    if (use_syslog) fprintf(stderr, "forward-server: %s\n", err.c_str());
    return 1;
  }
  if (daemon_mode) {
    if (!daemonize(err)) fatalx("cannot become a daemon: %s", err.c_str());
    event_reinit(base.get());
  }
  if (!pid_file.empty() && !write_pid_file(pid_file, err)) fatalx("pid file: %s", err.c_str());
  // Ports are bound and secrets read: root is no longer needed.
  if (!drop_privileges(config.user, config.group, err)) {
    log_error("cannot drop privileges: %s", err.c_str());
    remove_pid_file(pid_file);
    return 1;
  }
  if (!config.user.empty() || !config.group.empty())
    log_info("running as uid %d gid %d", static_cast<int>(getuid()), static_cast<int>(getgid()));
  daemon_ready();

  SignalSet signals(base.get());
  bool stopping = false;
  auto stop = [&] {
    if (stopping) {
      log_notice("second stop signal: exiting now");
      event_base_loopexit(base.get(), nullptr);
      return;
    }
    stopping = true;
    log_notice("shutting down");
    server.shutdown([&] { event_base_loopexit(base.get(), nullptr); });
  };
  signals.on(SIGTERM, stop);
  signals.on(SIGINT, stop);
  signals.on(SIGUSR1, [&] { server.log_status(); });
  signals.on(SIGHUP, [&] {
    log_notice("SIGHUP: reloading %s", path.c_str());
    ServerConfig next;
    ServerSecrets next_secrets;
    std::vector<ConfigError> reload_errors;
    if (!load_all(path, next, next_secrets, reload_errors)) {
      for (const auto& e : reload_errors) log_error("%s", e.str().c_str());
      log_error("reload failed (%zu error%s): still running the previous configuration",
                reload_errors.size(), reload_errors.size() == 1 ? "" : "s");
      return;
    }
    if (!verbose) log_set_level(next.log_level);
    server.reload(std::move(next), std::move(next_secrets));
  });
  log_notice("forward-server %s started", PACKAGE_VERSION);
  event_base_dispatch(base.get());
  remove_pid_file(pid_file);
  log_notice("stopped");
  return 0;
}
