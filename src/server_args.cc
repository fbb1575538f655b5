#include "server_args.h"

namespace {

constexpr const char* kHead =
    "usage: forward-server [options] CONFIG\n"
    "\n"
    "Accepts forward-client channels on INNER_PORT and forwards every public port\n"
    "in CONFIG's [MAPPER] through them to inner host:port targets. Keys, TLS\n"
    "(TLS_CERT, TLS_KEY), rules, tags and limits are set in CONFIG: see\n"
    "forward_server.cfg(5).\n"
    "\n"
    "options:\n";
constexpr const char* kTail =
    "\n"
    "signals: HUP reloads CONFIG (a bad one is refused and the running one kept;\n"
    "channels whose key or tag it revokes are closed),\n"
    "TERM/INT stop accepting and let streams finish for up to DRAIN_TIMEOUT seconds,\n"
    "USR1 logs the status (channels, mappings, streams, bytes).\n"
    "exit status: 0 ok, 1 runtime failure (e.g. a port in use), 64 usage, 78 bad config.\n";

}  // namespace

bool parse_server_args(int argc, char** argv, ServerArgs& out, ArgsExit& exit) {
  OptionTable table{"forward-server", kHead, kTail, 24, {}};
  table.options.push_back({"check", 'n', nullptr,
                           "check the configuration (and its key and certificate\n"
                           "files), print 'configuration OK', exit",
                           set_flag(out.check_only)});
  add_daemon_options(table.options, out.daemon, true);
  std::vector<std::string> operands;
  if (!parse_options(table, argc, argv, operands, exit)) return false;
  if (operands.size() != 1) {
    exit = usage_error(table, "expected exactly one CONFIG file argument", true);
    return false;
  }
  out.config = operands[0];
  return true;
}
