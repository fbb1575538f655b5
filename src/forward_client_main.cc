// forward-client: argv -> dial the server -> event loop. No config file.
#include <getopt.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "address.h"
#include "alloc_tuning.h"
#include "client.h"
#include "ev.h"
#include "log.h"
#include "signals.h"

namespace {

constexpr int kExitUsage = 64;  // EX_USAGE

void usage(FILE* out) {
  fprintf(out,
          "usage: forward-client [options] SERVER_HOST SERVER_PORT\n"
          "\n"
          "Keeps one channel open to forward-server at SERVER_HOST:SERVER_PORT (its\n"
          "INNER_PORT) and connects inner targets when the server asks.\n"
          "\n"
          "options:\n"
          "      --retry-delay SECONDS      wait before reconnecting (default 2)\n"
          "      --connect-timeout SECONDS  bound on connecting the server and targets (default 10)\n"
          "      --log-level LEVEL          debug, info, notice, warning or error (default info)\n"
          "  -v, --verbose                  log at debug level\n"
          "      --syslog                   log to syslog (facility daemon) instead of stderr\n"
          "  -h, --help                     show this help and exit\n"
          "      --version                  show the version and exit\n"
          "\n"
          "signals: TERM/INT stop, USR1 logs a status line.\n"
          "exit status: 0 ok, 1 runtime failure, 64 usage.\n");
}

bool parse_seconds(const char* text, int& out) {
  char* end;
  long v = strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || v < 1 || v > 3600) return false;
  out = static_cast<int>(v);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  ClientOptions opts;
  bool use_syslog = false;
  LogLevel level = LogLevel::info;
  static const option long_opts[] = {
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
      case 'r':
        if (!parse_seconds(optarg, opts.retry_delay_sec)) {
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

  log_init("forward-client", use_syslog, level);
  ignore_sigpipe();
  tune_allocator();
  EventBasePtr base(event_base_new());
  if (!base) fatalx("cannot create the event loop");
  ForwardClient client(base.get(), opts);
  std::string err;
  if (!client.start(err)) {
    log_error("%s", err.c_str());
    return 1;
  }
  SignalSet signals(base.get());
  auto stop = [&] {
    log_notice("shutting down");
    client.stop();
    event_base_loopexit(base.get(), nullptr);
  };
  signals.on(SIGTERM, stop);
  signals.on(SIGINT, stop);
  signals.on(SIGUSR1, [&] { client.log_status(); });
  log_notice("forward-client %s started", PACKAGE_VERSION);
  event_base_dispatch(base.get());
  return 0;
}
