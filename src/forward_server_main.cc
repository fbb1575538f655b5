// forward-server: argv -> config -> listeners -> (daemon) -> signals -> loop.
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>

#include "address.h"
#include "alloc_tuning.h"
#include "config.h"
#include "config_warnings.h"
#include "control_commands.h"
#include "control_socket.h"
#include "daemon.h"
#include "ev.h"
#include "init_setup.h"
#include "log.h"
#include "metrics_http.h"
#include "metrics_report.h"
#include "privileges.h"
#include "secrets.h"
#include "server.h"
#include "service_notify.h"
#include "server_args.h"
#include "signals.h"

namespace {

// Loads config and secrets; on failure fills errors.
bool load_all(const std::string& path, ServerConfig& config, ServerSecrets& secrets,
              std::vector<ConfigError>& errors) {
  if (!load_server_config(path, config, errors)) return false;
  return load_server_secrets(config, secrets, errors);
}

// Start-up's load_all: false after listing the errors on stderr.
bool load_or_report(const std::string& path, ServerConfig& config, ServerSecrets& secrets) {
  std::vector<ConfigError> errors;
  if (load_all(path, config, secrets, errors)) return true;
  for (const auto& e : errors) fprintf(stderr, "%s\n", e.str().c_str());
  fprintf(stderr, "forward-server: %zu error%s in configuration, not started\n", errors.size(),
          errors.size() == 1 ? "" : "s");
  return false;
}

// Absolute, so relative file names in it still resolve after chdir("/")
// and on reload.
std::string absolute_config_path(const std::string& path) {
  char resolved[PATH_MAX];
  return realpath(path.c_str(), resolved) ? std::string(resolved) : path;
}

// HUP: a config that does not load is logged and the running one kept.
bool reload(ForwardServer& server, const std::string& path, bool verbose,
            ServiceNotifier& notifier, MetricsHttp& metrics, const char* by) {
  log_notice("%s: reloading %s", by, path.c_str());
  notifier.reloading();
  struct Done {  // READY=1 ends the reload whatever its outcome
    ServiceNotifier& n;
    ~Done() { n.ready(); }
  } done{notifier};
  ServerConfig next;
  ServerSecrets next_secrets;
  std::vector<ConfigError> reload_errors;
  if (!load_all(path, next, next_secrets, reload_errors)) {
    for (const auto& e : reload_errors) log_error("%s", e.str().c_str());
    log_error("reload failed (%zu error%s): still running the previous configuration",
              reload_errors.size(), reload_errors.size() == 1 ? "" : "s");
    server.note_reload(false);
    return false;
  }
  LogLevel level = next.log_level;
  const ServerConfig& running = server.config();
  if (next.metrics_host != running.metrics_host || next.metrics_port != running.metrics_port)
    log_warnx("METRICS_LISTEN changed: the new address is used after a restart");
  bool ok = server.reload(std::move(next), std::move(next_secrets));
  if (ok) metrics.set_allow(server.config().metrics_allow);
  if (ok && !verbose) log_set_level(level);
  server.note_reload(ok);
  return ok;
}

// TERM/INT drain the streams (a second one exits at once), USR1 logs the
// status, HUP reloads path.
void on_signals(SignalSet& signals, event_base* base, ForwardServer& server,
                const std::string& path, bool verbose, bool& stopping, ServiceNotifier& notifier,
                MetricsHttp& metrics) {
  auto stop = [base, &server, &stopping, &notifier] {
    if (stopping) {
      log_notice("second stop signal: exiting now");
      event_base_loopexit(base, nullptr);
      return;
    }
    stopping = true;
    notifier.stopping();
    log_notice("shutting down");
    server.shutdown([base] { event_base_loopexit(base, nullptr); });
  };
  signals.on(SIGTERM, stop);
  signals.on(SIGINT, stop);
  signals.on(SIGUSR1, [&server] { server.log_status(); });
  signals.on(SIGHUP, [&server, &path, verbose, &notifier, &metrics] {
    reload(server, path, verbose, notifier, metrics, "SIGHUP");
  });
}

// CONTROL_SOCKET, made before privileges are dropped (the unit's
// RuntimeDirectory= is the daemon's anyway) and opened to the daemon's
// group. A server without one still serves: the failure is a warning.
void open_control_socket(ControlSocket& socket, const ServerConfig& config) {
  if (config.control_socket.empty()) return;
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  std::string err;
  resolve_user_group(config.user, config.group, uid, gid, err);  // unknown: checked at the drop
  // The default's folder exists where the packaged unit made it; a server
  // started by hand without it simply has no control socket.
  std::string dir = config.control_socket.substr(0, config.control_socket.rfind('/'));
  if (config.control_socket == ServerConfig().control_socket && access(dir.c_str(), F_OK) != 0) {
    log_info("no control socket: %s does not exist (set CONTROL_SOCKET to use forward-ctl)",
             dir.c_str());
    return;
  }
  if (socket.listen(config.control_socket, gid, err))
    log_info("control socket %s (forward-ctl)", config.control_socket.c_str());
  else
    log_warnx("control socket: %s; forward-ctl cannot reach this server (CONTROL_SOCKET = none "
              "turns it off)",
              err.c_str());
}

// Binds, detaches, drops privileges and runs the loop; the exit status.
int run_server(const ServerArgs& args, const std::string& path, const ServerConfig& config,
               ServerSecrets secrets) {
  const DaemonArgs& d = args.daemon;
  std::string pid_file = d.pid_file.empty() ? config.pid_file : absolute_path(d.pid_file);
  EventBasePtr base(event_base_new());
  if (!base) fatalx("cannot create the event loop");
  ForwardServer server(base.get(), config, std::move(secrets));
  std::string err;
  if (!server.start(err)) {
    log_error("%s", err.c_str());
    if (d.syslog) fprintf(stderr, "forward-server: %s\n", err.c_str());
    return 1;
  }
  // METRICS_LISTEN: /ready answers 200 from the end of start-up until a stop.
  bool ready = false, stopping = false;
  MetricsHttp metrics(
      base.get(), [&server] { return render_server_metrics(server.view(false), read_process_stats()); },
      [&ready, &stopping, &server] { return ready && !stopping && !server.draining(); });
  metrics.set_allow(config.metrics_allow);
  metrics.set_mapping_check([&server](const std::string& mapping, std::string& body) {
    return server.mapping_ready(mapping, body);
  });
  if (config.metrics_port) {
    if (!metrics.listen(config.metrics_host, config.metrics_port, err)) {
      log_error("METRICS_LISTEN: %s", err.c_str());
      if (d.syslog) fprintf(stderr, "forward-server: METRICS_LISTEN: %s\n", err.c_str());
      return 1;
    }
    log_info("metrics on http://%s/metrics",
             format_host_port(config.metrics_host, config.metrics_port).c_str());
  }
  if (d.daemon) {
    if (!daemonize(err)) fatalx("cannot become a daemon: %s", err.c_str());
    event_reinit(base.get());
  }
  ServiceNotifier notifier(base.get());
  ServerControl control(server, [&] {
    return reload(server, path, d.verbose, notifier, metrics, "forward-ctl");
  });
  ControlSocket control_socket(base.get(), [&control](const std::string& r, const ControlPeer& p) {
    return control.handle(r, p);
  });
  open_control_socket(control_socket, config);
  if (!pid_file.empty() && !write_pid_file(pid_file, err)) fatalx("pid file: %s", err.c_str());
  // Ports are bound and secrets read: root is no longer needed.
  if (!give_pid_file(pid_file, config.user, config.group, err)) log_warnx("pid file: %s", err.c_str());
  if (!drop_privileges(config.user, config.group, err)) {
    log_error("cannot drop privileges: %s", err.c_str());
    remove_pid_file(pid_file);
    return 1;
  }
  if (!config.user.empty() || !config.group.empty())
    log_info("running as uid %d gid %d", static_cast<int>(getuid()), static_cast<int>(getgid()));
  daemon_ready();
  SignalSet signals(base.get());
  on_signals(signals, base.get(), server, path, d.verbose, stopping, notifier, metrics);
  log_notice("forward-server %s started", PACKAGE_VERSION);
  notifier.ready();
  ready = true;
  notifier.keep_status([&server] { return server.summary(); });
  event_base_dispatch(base.get());
  if (!remove_pid_file(pid_file, err)) log_warnx("pid file: %s", err.c_str());
  log_notice("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ServerArgs args;
  ArgsExit early;
  if (!parse_server_args(argc, argv, args, early)) return print_exit(early);
  if (args.init) return run_init(args.config);
  std::string path = absolute_config_path(args.config);
  ServerConfig config;
  ServerSecrets secrets;
  if (!load_or_report(path, config, secrets)) return kExitConfig;
  if (args.check_only) {
    if (config.auth_none) printf("warning: AUTH = none: clients are not authenticated\n");
    for (const ConfigError& w : config_warnings(config)) printf("warning: %s\n", w.str().c_str());
    for (const ShadowedMapping& s : config.shadowed) printf("warning: %s\n", s.str().c_str());
    printf("configuration OK\n");
    return 0;
  }
  log_init("forward-server", args.daemon.syslog,
           args.daemon.verbose ? LogLevel::debug : config.log_level);
  ignore_sigpipe();
  tune_allocator();
  return run_server(args, path, config, std::move(secrets));
}
