#include "runtime_mappings.h"

#include "address.h"
#include "names.h"

std::string mapping_key(const Mapping& m) {
  std::string port = std::to_string(m.public_port);
  std::string key = m.bind_host.empty() ? port : format_host_port(m.bind_host, m.public_port);
  return key + (m.udp ? "/udp" : "");
}

namespace {
// Three comment lines and [MAPPER] before the first mapping.
const char kHeader[] =
    "# forward-server's runtime mappings (forward-ctl add and remove).\n"
    "# Written by the server; read after the configuration at every start and\n"
    "# reload. Change it with forward-ctl, not by hand.\n"
    "[MAPPER]\n";
constexpr int kHeaderLines = 4;
}  // namespace

int state_file_line(size_t index) { return kHeaderLines + 1 + static_cast<int>(index); }

std::string render_state_file(const std::vector<Mapping>& entries) {
  std::string text = kHeader;
  std::string tags;
  for (const Mapping& m : entries) {
    text += mapping_key(m) + " = " + m.target_name() + "\n";
    if (m.tag != "default") tags += mapping_key(m) + " = " + m.tag + "\n";
  }
  if (!tags.empty()) text += "[TAG]\n" + tags;
  return text;
}

bool parse_mapping_spec(const std::string& spec, const std::string& tag, Mapping& out,
                        std::string& err) {
  if (spec.find_first_of("\r\n") != std::string::npos) {
    err = "one mapping line, PUBLIC = TARGET, is expected";
    return false;
  }
  if (spec.find('=') == std::string::npos) {
    err = "expected PUBLIC = TARGET (as in [MAPPER]), got '" + printable(spec, 80) + "'";
    return false;
  }
  if (!tag.empty() && !valid_name(tag)) {
    err = "bad tag '" + printable(tag, 80) + "' (" + kNameRule + ")";
    return false;
  }
  std::vector<Mapping> parsed;
  std::vector<ConfigError> errors;
  if (!parse_mapping_text("add", "[MAPPER]\n" + spec + "\n", parsed, errors)) {
    err = errors.empty() ? "not a mapping" : errors.front().message;
    return false;
  }
  if (parsed.size() != 1) {
    err = "expected one mapping, PUBLIC = TARGET";
    return false;
  }
  out = parsed.front();
  out.file.clear();
  out.line = 0;
  out.runtime = false;  // the server's to say, once it is added
  if (!tag.empty()) out.tag = tag;
  return true;
}

bool public_name_of(const std::string& text, std::string& name, std::string& err) {
  std::string key;
  bool udp = false;
  HostPort pub;
  if (!split_protocol(text, key, udp) || !parse_host_port(key, false, pub, err)) {
    if (err.empty()) err = "the protocol is /tcp or /udp";
    err = "bad mapping '" + printable(text, 80) + "': " + err;
    return false;
  }
  Mapping m;
  m.bind_host = pub.host;
  m.public_port = pub.port;
  m.udp = udp;
  name = m.public_name();
  return true;
}

const Mapping* find_clash(const Mapping& m, const std::vector<Mapping>& others) {
  for (const Mapping& o : others)
    if (mappings_overlap(m, o)) return &o;
  return nullptr;
}

std::string clash_reason(const Mapping& m, const Mapping& other) {
  return "public port " + m.public_name() + " clashes with " + other.public_name() + " -> " +
         other.target_name() + ", " + (other.runtime ? "added at run time (" : "defined in ") +
         other.file + ":" + std::to_string(other.line) + (other.runtime ? ")" : "");
}
