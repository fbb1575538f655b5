// Loads what a ServerConfig names on disk for security: key files and the
// TLS context. Kept apart from config.cc, which only parses text, and run
// before privileges are dropped (and by -n, so a bad key is caught early).
#pragma once

#include <vector>

#include "auth.h"
#include "config.h"
#include "tls.h"

struct ServerSecrets {
  AuthSettingsPtr auth;
  std::shared_ptr<SSL_CTX> tls;  // null: plain TCP channels
};

// Returns false with every problem in errors (file:line of the key that
// named the file).
bool load_server_secrets(const ServerConfig& config, ServerSecrets& out,
                         std::vector<ConfigError>& errors);
