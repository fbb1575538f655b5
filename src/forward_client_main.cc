// forward-client: argv -> dial the server -> event loop. No config file.
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <unistd.h>

#include "address.h"
#include "alloc_tuning.h"
#include "auth.h"
#include "client.h"
#include "client_args.h"
#include "console.h"
#include "daemon.h"
#include "ev.h"
#include "log.h"
#include "metrics_http.h"
#include "metrics_report.h"
#include "privileges.h"
#include "service_notify.h"
#include "signals.h"
#include "tls.h"

namespace {

constexpr const char* kDefaultKeyFile = SYSCONFDIR "/tcp-forward/client.key";

// The key, or none with --no-auth; 0 or the exit status after saying why.
int load_key(const ClientArgs& args, AuthSettings& auth) {
  if (args.no_auth) {
    auth.enabled = false;
    return 0;
  }
  std::string key_file = args.key_file;
  if (key_file.empty() && access(kDefaultKeyFile, F_OK) == 0) key_file = kDefaultKeyFile;
  if (key_file.empty()) {
    fprintf(stderr,
            "forward-client: no key: no --key-file given and the default %s does not exist; "
            "give --key-file PATH (the server's AUTH_KEY_FILE key), or --no-auth for a server "
            "with AUTH = none\n",
            kDefaultKeyFile);
    return kExitConfig;
  }
  std::string err;
  if (!load_key_file(key_file, auth.key, err)) {
    fprintf(stderr, "forward-client: --key-file %s: %s\n", key_file.c_str(), err.c_str());
    return kExitConfig;
  }
  return 0;
}

// Keys and certificates: read at start-up, before any privilege drop. 0 or
// the exit status after saying why.
int load_secrets(ClientArgs& args) {
  ClientOptions& opts = args.options;
  auto auth = std::make_shared<AuthSettings>();
  auth->name = args.name;
  if (int status = load_key(args, *auth)) return status;
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
    // Checked after the key, as always: a missing key is reported first.
    fprintf(stderr, "forward-client: --server-name and --cert-key need --tls\n");
    return kExitUsage;
  }
  return 0;
}

// TERM/INT drain the streams (a second one exits at once); USR1 and HUP
// log the status and retry at once. console: null when there is none.
void on_signals(SignalSet& signals, event_base* base, ForwardClient& client, bool& stopping,
                ServiceNotifier& notifier, Console* console) {
  auto stop = [base, &client, &stopping, &notifier, console] {
    if (stopping) {
      event_base_loopexit(base, nullptr);
      return;
    }
    stopping = true;
    notifier.stopping();
    if (console) console->stopping();
    log_notice("shutting down");
    client.shutdown();
  };
  signals.on(SIGTERM, stop);
  signals.on(SIGINT, stop);
  signals.on(SIGUSR1, [&client] { client.poke(); });
  // Nothing to reload (no config file); HUP must not kill the client.
  signals.on(SIGHUP, [&client] { client.poke(); });
}

// What the console shows before any event: the servers as given, the tag.
ConsoleView::Setup console_setup(const ClientOptions& opts) {
  ConsoleView::Setup setup;
  setup.version = PACKAGE_VERSION;
  setup.tag = opts.tag;
  for (const ServerAddress& a : opts.servers)
    setup.servers.push_back(format_host_port(a.host, a.port));
  return setup;
}

// Detaches, dials, drops privileges and runs the loop; the exit status.
int run_client(const ClientArgs& args) {
  const ClientOptions& opts = args.options;
  std::string pid_file = absolute_path(args.daemon.pid_file);
  std::string err;
  if (args.daemon.daemon && !daemonize(err)) fatalx("cannot become a daemon: %s", err.c_str());
  if (!pid_file.empty() && !write_pid_file(pid_file, err)) fatalx("pid file: %s", err.c_str());
  EventBasePtr base(event_base_new());
  if (!base) fatalx("cannot create the event loop");
  int exit_status = 0;
  ClientOptions client_opts = opts;
  // REQUEST lines of http mappings are asked for only when someone reads
  // them, so a client without a console speaks to 0.3.0 servers as before.
  client_opts.want_requests =
      Console::wanted(args.daemon.syslog, args.no_console) || log_enabled(LogLevel::debug);
  ForwardClient client(base.get(), std::move(client_opts), [&](int status) {
    exit_status = status;
    event_base_loopexit(base.get(), nullptr);
  });
  if (!client.start(err)) {
    log_error("%s", err.c_str());
    remove_pid_file(pid_file);
    return 1;
  }
  // --metrics-listen: /ready answers 200 while the channel is up.
  bool stopping = false;
  MetricsHttp metrics(
      base.get(), [&client] { return render_client_metrics(client.metrics(), read_process_stats()); },
      [&client, &stopping] { return client.channel_up() && !stopping; });
  if (args.metrics_port) {
    if (!metrics.listen(args.metrics_host, args.metrics_port, err)) {
      log_error("--metrics-listen: %s", err.c_str());
      remove_pid_file(pid_file);
      return 1;
    }
    log_info("metrics on http://%s/metrics",
             format_host_port(args.metrics_host, args.metrics_port).c_str());
  }
  if (!give_pid_file(pid_file, args.user, "", err)) log_warnx("pid file: %s", err.c_str());
  if (!drop_privileges(args.user, "", err)) {
    log_error("cannot drop privileges: %s", err.c_str());
    return 1;
  }
  daemon_ready();
  // systemd: ready once the first channel is up (the loop has not run yet).
  ServiceNotifier notifier(base.get());
  client.on_channel_up([&notifier] { notifier.ready(); });
  notifier.keep_status([&client] { return client.summary(); });
  // On a terminal, the console takes the log lines from here on.
  std::unique_ptr<Console> console;
  if (Console::wanted(args.daemon.syslog, args.no_console)) {
    console = std::make_unique<Console>(base.get(), client, console_setup(opts));
    client.set_events(console.get());
    console->start();
  }
  SignalSet signals(base.get());
  on_signals(signals, base.get(), client, stopping, notifier, console.get());
  log_notice("forward-client %s started; targets allowed: %s; at most %zu streams, %zu UDP "
             "sessions, %zu bytes of early data pending",
             PACKAGE_VERSION, opts.allow.str().c_str(), opts.max_streams, opts.max_udp_sessions,
             opts.max_pending_bytes);
  event_base_dispatch(base.get());
  if (console) {
    console->finish();
    client.set_events(nullptr);  // the client outlives the console
  }
  if (!remove_pid_file(pid_file, err)) log_warnx("pid file: %s", err.c_str());
  return exit_status;
}

}  // namespace

int main(int argc, char** argv) {
  ClientArgs args;
  ArgsExit early;
  if (!parse_client_args(argc, argv, args, early)) return print_exit(early);
  if (int status = load_secrets(args)) return status;
  log_init("forward-client", args.daemon.syslog, args.log_level());
  ignore_sigpipe();
  tune_allocator();
  return run_client(args);
}
