// libFuzzer target for the server configuration (src/config.{h,cc}).
//
// The input is the main configuration file, optionally followed by a line
// "%%" and the text every other file read through the FileReader gets (the
// OUTER_PORTS_FILE, and any other file the configuration names). Nothing
// touches the real file system.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "config.h"
#include "log.h"

namespace {

constexpr char kMainPath[] = "/fuzz/etc/forward_server.cfg";
constexpr char kSplit[] = "\n%%\n";

[[noreturn]] void fail(const char* what) {
  fprintf(stderr, "config_fuzz: invariant broken: %s\n", what);
  abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log_init("config_fuzz", false, LogLevel::error);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  std::string main_text = input, other_text;
  size_t split = input.find(kSplit);
  if (split != std::string::npos) {
    main_text = input.substr(0, split + 1);
    other_text = input.substr(split + sizeof kSplit - 1);
  }
  FileReader reader = [&](const std::string& path, std::string& text, std::string& err) {
    if (path.empty()) {
      err = "empty path";
      return false;
    }
    if (path == kMainPath) {
      text = main_text;
      return true;
    }
    if (other_text.empty()) {
      err = "No such file or directory";
      return false;
    }
    text = other_text;
    return true;
  };

  ServerConfig config;
  std::vector<ConfigError> errors;
  bool ok = load_server_config(kMainPath, config, errors, reader);
  if (ok != errors.empty()) fail("result disagrees with the error list");
  for (const ConfigError& e : errors) {
    if (e.message.empty()) fail("an error without a message");
    if (e.str().empty()) fail("an error that prints as nothing");
    if (e.line < 0) fail("negative line number");
  }
  if (ok) {
    if (config.inner_port == 0) fail("INNER_PORT 0 accepted");
    for (const Mapping& m : config.mappings) {
      if (m.public_port == 0 || m.target_port == 0) fail("port 0 in a mapping");
      if (m.target_host.empty()) fail("mapping without a target host");
      if (m.public_name().empty() || m.target_name().empty()) fail("mapping prints as nothing");
    }
  }
  return 0;
}
