// forward-server's answers to forward-ctl: one JSON request line in
// ({"command": "clients", "args": []}), one JSON response line out
// ({"ok": true, "result": ...} or {"ok": false, "error": "..."}). The
// commands and their fields are documented in forward-ctl(8).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "control_socket.h"
#include "server_view.h"

class ForwardServer;

// The rows as JSON (pure: unit-tested).
nlohmann::json view_status_json(const ServerView& v, int64_t now);
nlohmann::json mappings_json(const std::vector<MappingRow>& rows);
nlohmann::json clients_json(const std::vector<ClientRow>& rows, int64_t now);
nlohmann::json streams_json(const std::vector<StreamRow>& rows);

class ServerControl {
 public:
  // reload: what HUP does; true if the new configuration was applied.
  using ReloadFn = std::function<bool()>;
  ServerControl(ForwardServer& server, ReloadFn reload);
  std::string handle(const std::string& request, const ControlPeer& peer);

 private:
  nlohmann::json run(const std::string& command, const std::vector<std::string>& args);

  ForwardServer& server_;
  ReloadFn reload_;
};
