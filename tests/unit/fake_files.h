// An in-memory file system for the configuration loader's FileReader hook
// (config.h): the tests that load configurations read nothing from disk.
#pragma once

#include <cerrno>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "config.h"

struct Files {
  std::map<std::string, std::string> files;
  std::vector<std::string> reads;  // every path asked for, in order

  // A path not in files fails as a missing file does (ENOENT's text, which
  // the loader treats as "absent" where absence is allowed: STATE_FILE).
  FileReader reader() {
    return [this](const std::string& path, std::string& text, std::string& err) {
      reads.push_back(path);
      auto it = files.find(path);
      if (it == files.end()) {
        err = strerror(ENOENT);
        return false;
      }
      text = it->second;
      return true;
    };
  }
};
