// forward-client's command line -> ClientArgs. Pure: the key and the TLS
// files are read later, at start-up.
#pragma once

#include <string>

#include "client.h"
#include "log.h"
#include "options.h"

struct ClientArgs {
  ClientOptions options;  // all but auth and tls_ctx, which start-up loads
  DaemonArgs daemon;
  LogLevel level = LogLevel::info;  // --log-level
  std::string key_file;             // --key-file; empty: the default file, if any
  bool no_auth = false;             // --no-auth
  std::string name;                 // --name
  std::string user;                 // --user
  std::string metrics_host;         // --metrics-listen ADDR:PORT (metrics_http.h)
  uint16_t metrics_port = 0;        // 0: no metrics endpoint
  bool no_console = false;          // --no-console: log lines even on a terminal

  LogLevel log_level() const { return daemon.verbose ? LogLevel::debug : level; }
};

// Fills out from argv: the options, then SERVER_HOST SERVER_PORT. false:
// stop, as exit says (--help, --version, or a usage error, status 64).
bool parse_client_args(int argc, char** argv, ClientArgs& out, ArgsExit& exit);
