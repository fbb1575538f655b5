// The mappings forward-ctl add/remove make at run time, as text: the state
// file (STATE_FILE) they live in, the "PUBLIC = TARGET" an operator types,
// and the clash with a mapping that is already there. Pure: no I/O, no
// libevent (state_file.* writes the file, server_runtime.cc applies it).
//
// The state file has the syntax of the configuration's mapping lines:
//
//   [MAPPER]
//   1234 = 192.168.10.5:22
//   127.0.0.1:5353/udp = 10.0.0.1:53
//   [TAG]
//   1234 = site-b
//
// The server loads it after its configuration files on every start and
// reload (config.cc, load_server_config).
#pragma once

#include <string>
#include <vector>

#include "config.h"

// The key of m's line: "1234", "127.0.0.1:5353/udp", "[::1]:22".
std::string mapping_key(const Mapping& m);

// The whole state file for entries (in their order), with a header saying
// what writes it. parse_mapping_text() reads it back.
std::string render_state_file(const std::vector<Mapping>& entries);

// The line of the index-th mapping (from 0) in render_state_file's text.
int state_file_line(size_t index);

// forward-ctl add's "PUBLIC = TARGET" (one mapping line) and optional tag
// ("" for the default): the mapping, as the configuration would read it
// (file and line not set). false with err, the parser's message.
bool parse_mapping_spec(const std::string& spec, const std::string& tag, Mapping& out,
                        std::string& err);

// A mapping's public address as an operator may type it ("1234",
// "127.0.0.1:80/udp", "0.0.0.0:1234") -> Mapping::public_name(). false
// with err if it is not one.
bool public_name_of(const std::string& text, std::string& name, std::string& err);

// The first of others that m cannot listen beside (mappings_overlap), or
// nullptr.
const Mapping* find_clash(const Mapping& m, const std::vector<Mapping>& others);

// Why m is refused beside the mapping it clashes with, naming where that
// one comes from: "public port 0.0.0.0:1234 clashes with 127.0.0.1:1234 ->
// 10.0.0.1:22, defined in /etc/tcp-forward/forward_server.cfg:12".
std::string clash_reason(const Mapping& m, const Mapping& other);
