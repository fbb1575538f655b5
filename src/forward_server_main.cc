// forward-server: argv -> config -> listeners -> signals -> event loop.
#include <getopt.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

#include "alloc_tuning.h"
#include "config.h"
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
          "in CONFIG's [MAPPER] through them to inner host:port targets.\n"
          "\n"
          "options:\n"
          "  -n, --check      check the configuration, print 'configuration OK', exit\n"
          "  -v, --verbose    log at debug level (overrides LOG_LEVEL)\n"
          "      --syslog     log to syslog (facility daemon) instead of stderr\n"
          "  -h, --help       show this help and exit\n"
          "      --version    show the version and exit\n"
          "\n"
          "signals: TERM/INT stop, USR1 logs a status line.\n"
          "exit status: 0 ok, 1 runtime failure (e.g. a port in use), 64 usage, 78 bad config.\n");
}

}  // namespace

int main(int argc, char** argv) {
  bool check_only = false, verbose = false, use_syslog = false;
  static const option long_opts[] = {
      {"check", no_argument, nullptr, 'n'},   {"verbose", no_argument, nullptr, 'v'},
      {"syslog", no_argument, nullptr, 'S'},  {"help", no_argument, nullptr, 'h'},
      {"version", no_argument, nullptr, 'V'}, {nullptr, 0, nullptr, 0},
  };
  int c;
  while ((c = getopt_long(argc, argv, "nvh", long_opts, nullptr)) != -1) {
    switch (c) {
      case 'n': check_only = true; break;
      case 'v': verbose = true; break;
      case 'S': use_syslog = true; break;
      case 'h': usage(stdout); return 0;
      case 'V': printf("forward-server (tcp-forward) %s\n", PACKAGE_VERSION); return 0;
      default: usage(stderr); return kExitUsage;
    }
  }
  if (optind != argc - 1) {
    fprintf(stderr, "forward-server: expected exactly one CONFIG file argument\n");
    usage(stderr);
    return kExitUsage;
  }
  std::string path = argv[optind];

  ServerConfig config;
  ServerSecrets secrets;
  std::vector<ConfigError> errors;
  if (load_server_config(path, config, errors)) load_server_secrets(config, secrets, errors);
  if (!errors.empty()) {
    for (const auto& e : errors) fprintf(stderr, "%s\n", e.str().c_str());
    fprintf(stderr, "forward-server: %zu error%s in configuration, not started\n", errors.size(),
            errors.size() == 1 ? "" : "s");
    return kExitConfig;
  }
  if (check_only) {
    if (config.auth_none)
      printf("warning: AUTH = none: clients are not authenticated\n");
    printf("configuration OK\n");
    return 0;
  }

  log_init("forward-server", use_syslog, verbose ? LogLevel::debug : config.log_level);
  ignore_sigpipe();
  tune_allocator();
  EventBasePtr base(event_base_new());
  if (!base) fatalx("cannot create the event loop");

  ForwardServer server(base.get(), config, std::move(secrets));
  std::string err;
  if (!server.start(err)) {
    log_error("%s", err.c_str());
    return 1;
  }
  // Ports are bound and secrets read: root is no longer needed.
  if (!drop_privileges(config.user, config.group, err)) {
    log_error("cannot drop privileges: %s", err.c_str());
    return 1;
  }
  if (!config.user.empty() || !config.group.empty())
    log_info("running as uid %d gid %d", static_cast<int>(getuid()), static_cast<int>(getgid()));
  SignalSet signals(base.get());
  auto stop = [&] {
    log_notice("shutting down");
    server.stop();
    event_base_loopexit(base.get(), nullptr);
  };
  signals.on(SIGTERM, stop);
  signals.on(SIGINT, stop);
  signals.on(SIGUSR1, [&] { server.log_status(); });
  signals.on(SIGHUP, [] {
    log_warnx("SIGHUP: configuration reload is not supported by this version; restart to apply changes");
  });
  log_notice("forward-server %s started", PACKAGE_VERSION);
  event_base_dispatch(base.get());
  return 0;
}
