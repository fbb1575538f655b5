// forward-server's command line -> ServerArgs. Everything else is in CONFIG.
#pragma once

#include <string>

#include "options.h"

struct ServerArgs {
  DaemonArgs daemon;
  bool check_only = false;  // -n
  std::string config;       // CONFIG, as given
};

// Fills out from argv: the options, then CONFIG. false: stop, as exit says
// (--help, --version, or a usage error, status 64).
bool parse_server_args(int argc, char** argv, ServerArgs& out, ArgsExit& exit);
