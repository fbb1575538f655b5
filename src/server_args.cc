#include "server_args.h"

namespace {

constexpr const char* kHead =
    "usage: forward-server [options] CONFIG\n"
    "       forward-server --init [DIR | CONFIG]\n"
    "\n"
    "Accepts forward-client channels on INNER_PORT and forwards every public port\n"
    "in CONFIG's [MAPPER] through them to inner host:port targets. Keys, TLS\n"
    "(TLS_CERT, TLS_KEY), rules, tags, limits and Prometheus metrics\n"
    "(METRICS_LISTEN, METRICS_ALLOW) are set in CONFIG: see forward_server.cfg(5).\n"
    "\n"
    "options:\n";
constexpr const char* kTail =
    "\n"
    "signals: HUP reloads CONFIG (a bad one is refused and the running one kept;\n"
    "channels whose key or tag it revokes are closed),\n"
    "TERM/INT stop accepting and let streams finish for up to DRAIN_TIMEOUT seconds,\n"
    "USR1 logs the status (channels, mappings, streams, bytes).\n"
    "exit status: 0 ok, 1 runtime failure (e.g. a port in use), 64 usage, 78 bad config,\n"
    "73 --init would overwrite a file.\n";

}  // namespace

bool parse_server_args(int argc, char** argv, ServerArgs& out, ArgsExit& exit) {
  OptionTable table{"forward-server", kHead, kTail, 24, {}};
  table.options.push_back({"check", 'n', nullptr,
                           "check the configuration (and its key and certificate\n"
                           "files), print 'configuration OK', exit",
                           set_flag(out.check_only)});
  table.options.push_back({"init", 0, nullptr,
                           "make the shared key and a self-signed TLS certificate\n"
                           "in DIR (default " SYSCONFDIR "/tcp-forward) or CONFIG's\n"
                           "folder, add them to its forward_server.cfg, print the\n"
                           "forward-client command; never overwrites a file",
                           set_flag(out.init)});
  add_daemon_options(table.options, out.daemon, true);
  std::vector<std::string> operands;
  if (!parse_options(table, argc, argv, operands, exit)) return false;
  if (out.init) {
    const DaemonArgs& d = out.daemon;
    if (out.check_only || d.syslog || d.daemon || !d.pid_file.empty()) {
      exit = usage_error(table, "--init takes no other option but -v", false);
      return false;
    }
    if (operands.size() > 1) {
      exit = usage_error(table, "--init takes one DIR or CONFIG at most", true);
      return false;
    }
    out.config = operands.empty() ? "" : operands[0];
    return true;
  }
  if (operands.size() != 1) {
    exit = usage_error(table, "expected exactly one CONFIG file argument", true);
    return false;
  }
  out.config = operands[0];
  return true;
}
