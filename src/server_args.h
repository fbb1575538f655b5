// forward-server's command line -> ServerArgs. Everything else is in CONFIG.
// "forward-server --init [DIR | CONFIG]" is the one other form.
#pragma once

#include <string>

#include "options.h"

struct ServerArgs {
  DaemonArgs daemon;
  bool check_only = false;  // -n
  std::string config;       // CONFIG, as given; with --init, DIR or CONFIG or ""
  bool init = false;        // --init
};

// Fills out from argv: the options, then CONFIG (with --init, at most one
// operand, and no option but -v). false: stop, as exit says
// (--help, --version, or a usage error, status 64).
bool parse_server_args(int argc, char** argv, ServerArgs& out, ArgsExit& exit);
