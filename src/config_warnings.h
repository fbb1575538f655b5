// What a valid configuration says that is almost certainly not meant:
// reported as warnings (forward-server -n prints them, the server logs them
// at start and on reload) rather than refused, since the daemon can run.
// Pure: looks only at the parsed ServerConfig.
#pragma once

#include <vector>

#include "config.h"

// One ConfigError per problem (file:line of the mapping it concerns).
std::vector<ConfigError> config_warnings(const ServerConfig& c);
