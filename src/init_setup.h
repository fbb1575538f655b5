// forward-server --init [DIR | CONFIG]: the files and the one edit that
// take a new server to a TLS channel with a pinned certificate. Makes, in
// the configuration's folder, the shared key (unless one is there or the
// configuration needs none) and a self-signed server certificate and key
// (self_signed_cert.h), never replacing a file; adds the TLS_CERT, TLS_KEY
// and AUTH_KEY_FILE lines the configuration lacks (init_config.h decides
// which), or prints them when there is no configuration file; prints the
// forward-client command to run on the clients.
#pragma once

#include <string>

// EX_CANTCREAT: --init refused because a file it would write exists.
constexpr int kExitCantCreate = 73;

// The folder --init uses when given none: the packaged configuration's.
constexpr const char* kDefaultInitDir = SYSCONFDIR "/tcp-forward";
// The configuration file --init looks for in a folder.
constexpr const char* kConfigFileName = "forward_server.cfg";

// target: a folder, a configuration file (its folder is used), or "" for
// kDefaultInitDir. Reports on stdout (what was made, the command to run)
// and stderr (errors). Returns the exit status: 0; 1 when something cannot
// be read, made or written (nothing it made is left behind); 73 when a file
// it would write exists (nothing changed); 78 when the configuration or an
// existing key it would use is bad.
int run_init(const std::string& target);
