#include "control_commands.h"

#include <algorithm>
#include <ctime>

#include "log.h"
#include "runtime_mappings.h"
#include "server.h"

using nlohmann::json;

namespace {

// A refusal: the message goes to forward-ctl's stderr, exit status 1.
struct Refused {
  std::string why;
};

void want_args(const std::vector<std::string>& args, size_t n, const char* usage) {
  if (args.size() != n) throw Refused{std::string("usage: ") + usage};
}

// add's arguments: the words of "PUBLIC = TARGET" (quoted as one or not)
// and --tag T / --tag=T anywhere.
void parse_add_args(const std::vector<std::string>& args, std::string& spec, std::string& tag) {
  const char* usage = "usage: add 'PUBLIC = TARGET' [--tag TAG]";
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--tag") {
      if (i + 1 == args.size()) throw Refused{usage};
      tag = args[++i];
    } else if (args[i].compare(0, 6, "--tag=") == 0) {
      tag = args[i].substr(6);
    } else if (args[i].compare(0, 2, "--") == 0) {
      throw Refused{"add: unknown option '" + args[i] +
                    "' (forward-ctl's own options, such as --json, go before the command)"};
    } else {
      spec += (spec.empty() ? "" : " ") + args[i];
    }
  }
  if (spec.empty() || (tag.empty() && std::find(args.begin(), args.end(), "--tag=") != args.end()))
    throw Refused{usage};
}

json mapping_json(const Mapping& m, const std::vector<std::string>& lines) {
  return {{"mapping", m.public_name()}, {"target", m.target_name()}, {"tag", m.tag},
          {"proto", m.udp ? "udp" : "tcp"}, {"lines", lines}};
}

}  // namespace

json view_status_json(const ServerView& v, int64_t now) {
  // A shadowed runtime entry is in the state file, not a mapping served.
  size_t mappings = std::count_if(v.mappings.begin(), v.mappings.end(),
                                  [](const MappingRow& r) { return r.state != "shadowed"; });
  json j{{"version", v.version},
         {"config", v.config_path},
         {"uptime_seconds", now - v.started},
         {"channels", v.channels},
         {"handshakes", v.handshakes},
         {"mappings", mappings},
         {"streams", v.streams},
         {"udp_sessions", v.udp_sessions},
         {"held", v.held}};
  if (v.last_reload)
    j["last_reload"] = {{"time", v.last_reload}, {"ok", v.last_reload_ok}};
  else
    j["last_reload"] = nullptr;
  return j;
}

json mappings_json(const std::vector<MappingRow>& rows) {
  json a = json::array();
  for (const auto& r : rows) {
    a.push_back({{"mapping", r.name}, {"target", r.target}, {"tag", r.tag}, {"proto", r.proto},
                 {"state", r.state}, {"origin", r.origin}, {"live", r.live}});
    // Totals since the port was bound (the counters /metrics exports).
    json& m = a.back();
    m["connections"] = r.connections;
    m["bytes_in"] = r.bytes_in;
    m["bytes_out"] = r.bytes_out;
    m["rejected"] = r.rejected;
  }
  return a;
}

json clients_json(const std::vector<ClientRow>& rows, int64_t now) {
  json a = json::array();
  for (const auto& r : rows) {
    json c{{"name", r.name},       {"tag", r.tag},
           {"peer", r.peer},       {"session", r.session},
           {"tls", r.tls},         {"up_since", r.up_since},
           {"up_seconds", now - r.up_since},
           {"streams", r.streams}, {"udp_sessions", r.udp_sessions},
           {"bytes_in", r.bytes_in}, {"bytes_out", r.bytes_out}};
    c["rtt_seconds"] = r.rtt_ms < 0 ? json(nullptr) : json(static_cast<double>(r.rtt_ms) / 1000.0);
    a.push_back(std::move(c));
  }
  return a;
}

json streams_json(const std::vector<StreamRow>& rows) {
  json a = json::array();
  for (const auto& r : rows)
    a.push_back({{"id", r.id}, {"mapping", r.mapping}, {"peer", r.peer}, {"client", r.client},
                 {"bytes_in", r.bytes_in}, {"bytes_out", r.bytes_out},
                 {"age_seconds", static_cast<int64_t>(r.age_sec * 1000) / 1000.0}});
  return a;
}

ServerControl::ServerControl(ForwardServer& server, ReloadFn reload)
    : server_(server), reload_(std::move(reload)) {}

std::string ServerControl::handle(const std::string& request, const ControlPeer& peer) {
  json response;
  try {
    json req = json::parse(request);
    if (!req.is_object() || !req.contains("command") || !req["command"].is_string())
      throw Refused{"a request is {\"command\": NAME, \"args\": [...]}"};
    std::vector<std::string> args;
    if (req.contains("args")) args = req["args"].get<std::vector<std::string>>();
    std::string command = req["command"].get<std::string>();
    if (command != "status" && command != "mappings" && command != "clients" &&
        command != "streams")
      log_notice("control: %s%s%s by pid %d, uid %d", command.c_str(), args.empty() ? "" : " ",
                 args.empty() ? "" : args[0].c_str(), static_cast<int>(peer.pid),
                 static_cast<int>(peer.uid));
    response = {{"ok", true}, {"result", run(command, args)}};
  } catch (const Refused& r) {
    response = {{"ok", false}, {"error", r.why}};
  } catch (const json::exception& e) {
    response = {{"ok", false}, {"error", std::string("bad request: ") + e.what()}};
  }
  // Replace, not throw, on invalid UTF-8 (a peer address never is; a tag is printable).
  return response.dump(-1, ' ', false, json::error_handler_t::replace);
}

json ServerControl::run(const std::string& command, const std::vector<std::string>& args) {
  int64_t now = static_cast<int64_t>(time(nullptr));
  if (command == "status") {
    want_args(args, 0, "status");
    return view_status_json(server_.view(false), now);
  }
  if (command == "mappings") {
    want_args(args, 0, "mappings");
    return mappings_json(server_.view(false).mappings);
  }
  if (command == "clients") {
    want_args(args, 0, "clients");
    return clients_json(server_.view(false).clients, now);
  }
  if (command == "streams") {
    if (args.size() > 1) throw Refused{"usage: streams [MAPPING]"};
    return streams_json(server_.view(true, args.empty() ? "" : args[0]).streams_rows);
  }
  if (command == "kick") {
    want_args(args, 1, "kick CLIENT (a name, a session or a peer address)");
    size_t n = server_.kick(args[0]);
    if (n == 0) throw Refused{"no channel of a client '" + args[0] + "'"};
    return {{"closed", n}};
  }
  if (command == "disable" || command == "enable") {
    want_args(args, 1, (command + " MAPPING (its public address, as mappings shows it)").c_str());
    std::string err;
    if (!server_.set_enabled(args[0], command == "enable", err)) throw Refused{err};
    return {{"mapping", args[0]}, {"state", command == "enable" ? "listening" : "disabled"}};
  }
  if (command == "drain") {
    want_args(args, 0, "drain");
    server_.drain();
    return {{"draining", true}, {"streams", server_.view(false).streams}};
  }
  if (command == "add") {
    std::string spec, tag, err;
    parse_add_args(args, spec, tag);
    Mapping m;
    if (!parse_mapping_spec(spec, tag, m, err)) throw Refused{err};
    LogCapture capture;
    if (!server_.add_mapping(m, err)) throw Refused{err};
    return mapping_json(m, capture.lines());
  }
  if (command == "remove") {
    want_args(args, 1, "remove MAPPING (its public address, as mappings shows it)");
    std::string err;
    LogCapture capture;
    if (!server_.remove_mapping(args[0], err)) throw Refused{err};
    std::string name;
    if (!public_name_of(args[0], name, err)) name = args[0];  // cannot happen: it was removed
    return {{"mapping", name}, {"lines", capture.lines()}};
  }
  if (command == "log-level") {
    want_args(args, 1, "log-level debug|info|notice|warning|error");
    LogLevel level;
    if (!parse_log_level(args[0], level))
      throw Refused{"unknown level '" + args[0] + "': debug, info, notice, warning or error"};
    log_set_level(level);
    log_notice("control: log level %s until the next reload", log_level_name(level));
    return {{"level", log_level_name(level)}};
  }
  if (command == "reload") {
    want_args(args, 0, "reload");
    LogCapture capture;
    bool ok = reload_();
    if (!ok) {
      std::string text;
      for (const auto& l : capture.lines()) text += l + "\n";
      throw Refused{text + "configuration refused; the running configuration is kept"};
    }
    return {{"lines", capture.lines()}};
  }
  throw Refused{"unknown command '" + command +
                "' (status, mappings, clients, streams, reload, add, remove, kick, disable, enable, "
                "log-level)"};
}
