// ForwardServer's runtime mappings: forward-ctl add and remove. The state
// file's text is runtime_mappings.*; this applies it to the listeners.
#include <algorithm>

#include "log.h"
#include "runtime_mappings.h"
#include "server.h"
#include "state_file.h"

namespace {

bool refuse(std::string& err, const std::string& why) {
  err = why;
  return false;
}

}  // namespace

bool ForwardServer::save_runtime(const std::vector<Mapping>& entries, std::string& err) {
  std::string text = render_state_file(entries);
  std::vector<Mapping> parsed;
  std::vector<ConfigError> errors;
  // The text is read back as a start would read it: what is written loads.
  if (!parse_mapping_text(config_.state_file, text, parsed, errors) ||
      parsed.size() != entries.size())
    return refuse(err, "the state file would not load again: " +
                           (errors.empty() ? std::string("mappings lost") : errors.front().str()));
  if (!write_state_file(config_.state_file, text, err)) return false;
  // Lines may have moved (a hand-edited file is rewritten): keep origins true.
  auto line_of = [&parsed](const Mapping& m) {
    for (const Mapping& p : parsed)
      if (p.public_name() == m.public_name()) return p.line;
    return m.line;
  };
  for (Mapping& m : config_.mappings)
    if (m.runtime) m.line = line_of(m);
  for (ShadowedMapping& s : config_.shadowed) s.mapping.line = line_of(s.mapping);
  for (auto& kv : ports_) {
    Mapping m = kv.second->mapping();
    if (!m.runtime || m.line == line_of(m)) continue;
    m.line = line_of(m);
    kv.second->set_mapping(m);
    kv.second->refresh_udp(udp_limits());
  }
  config_.runtime_entries = std::move(parsed);
  return true;
}

bool ForwardServer::add_mapping(Mapping m, std::string& err) {
  if (config_.state_file.empty())
    return refuse(err, "runtime mappings are off (STATE_FILE = none in " + config_.path +
                           "): add it to the configuration and reload");
  if (shutdown_done_) return refuse(err, "the server is shutting down");
  std::vector<Mapping> taken = listening_mappings();  // disabled ones too
  if (const Mapping* c = find_clash(m, taken))
    return refuse(err, clash_reason(m, *c) + "; not added");
  for (const ShadowedMapping& s : config_.shadowed)
    if (mappings_overlap(m, s.mapping))
      return refuse(err, clash_reason(m, s.mapping) + " (not listened on: " + s.why +
                             "); not added");
  Mapping inner;
  inner.bind_host = config_.inner_addr;
  inner.public_port = config_.inner_port;
  if (mappings_overlap(m, inner))
    return refuse(err, "public port " + m.public_name() + " is INNER_PORT; not added");

  m.runtime = true;
  m.file = config_.state_file;
  std::vector<Mapping> entries = config_.runtime_entries;
  m.line = state_file_line(entries.size());
  entries.push_back(m);  // as written: tag, no rules
  apply_config_rules(config_, m);
  // All or nothing: listen first, then write; a failed write closes the
  // port again and the state file is as it was.
  std::string bind_err;
  std::unique_ptr<PublicPort> port = bind_public(m, bind_err);
  if (!port) return refuse(err, bind_err + "; not added");
  if (!save_runtime(entries, err)) {
    err = "cannot write the state file: " + err + "; not added";
    return false;
  }
  log_notice("mapping %s -> %s added at run time (tag %s, %s:%d)%s%s", m.public_name().c_str(),
             m.target_name().c_str(), m.tag.c_str(), m.file.c_str(), m.line,
             m.access.empty() ? "" : ", ", m.access.empty() ? "" : m.access.str().c_str());
  ports_[m.public_name()] = std::move(port);
  config_.mappings.push_back(m);
  return true;
}

bool ForwardServer::remove_mapping(const std::string& arg, std::string& err) {
  std::string name;
  if (!public_name_of(arg, name, err)) return false;
  if (config_.state_file.empty())
    return refuse(err, "runtime mappings are off (STATE_FILE = none in " + config_.path + ")");
  if (shutdown_done_) return refuse(err, "the server is shutting down");
  std::vector<Mapping> entries = config_.runtime_entries;
  auto it = std::find_if(entries.begin(), entries.end(),
                         [&name](const Mapping& e) { return e.public_name() == name; });
  if (it == entries.end()) {
    auto p = ports_.find(name);
    if (p != ports_.end())
      return refuse(err, "mapping " + name + " is defined in " + p->second->mapping().file + ":" +
                             std::to_string(p->second->mapping().line) +
                             "; edit the file and reload");
    return refuse(err, "no mapping '" + arg + "' (forward-ctl mappings lists them)");
  }
  entries.erase(it);
  if (!save_runtime(entries, err)) {
    err = "cannot write the state file: " + err + "; not removed";
    return false;
  }
  auto& shadowed = config_.shadowed;
  for (auto s = shadowed.begin(); s != shadowed.end(); ++s)
    if (s->mapping.public_name() == name) {
      log_notice("runtime mapping %s -> %s removed (it was not listened on)", name.c_str(),
                 s->mapping.target_name().c_str());
      shadowed.erase(s);
      return true;
    }
  auto& ms = config_.mappings;
  ms.erase(std::remove_if(ms.begin(), ms.end(),
                          [&name](const Mapping& m) { return m.runtime && m.public_name() == name; }),
           ms.end());
  auto p = ports_.find(name);
  if (p != ports_.end() && p->second->mapping().runtime) remove_port(name, config_.drain_timeout_sec);
  return true;
}
