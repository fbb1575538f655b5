// STATE_FILE's text (forward-ctl add/remove): render and read back, the
// operator's "PUBLIC = TARGET", clashes, and how load_server_config merges
// the state file after the configuration. In memory: nothing touches disk.
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "config.h"
#include "fake_files.h"
#include "runtime_mappings.h"

namespace {

const char kMain[] = "/etc/tf/forward_server.cfg";
const char kState[] = "/var/lib/tf/runtime.cfg";

Mapping spec(const std::string& line, const std::string& tag = "") {
  Mapping m;
  std::string err;
  EXPECT_TRUE(parse_mapping_spec(line, tag, m, err)) << line << ": " << err;
  return m;
}

std::string spec_error(const std::string& line, const std::string& tag = "") {
  Mapping m;
  std::string err;
  EXPECT_FALSE(parse_mapping_spec(line, tag, m, err)) << line;
  return err;
}

struct Loaded {
  bool ok = false;
  ServerConfig config;
  std::vector<ConfigError> errors;
  std::string dump() const {
    std::string s;
    for (const auto& e : errors) s += "  " + e.str() + "\n";
    return s;
  }
};

// The main file (with STATE_FILE pointing at kState) and, if given, the state file.
Loaded load(const std::string& main, const std::string* state) {
  std::map<std::string, std::string> files{
      {kMain, "[DEFAULT]\nAUTH = none\nSTATE_FILE = " + std::string(kState) + "\n" + main}};
  if (state) files[kState] = *state;
  Files fs{files, {}};
  Loaded l;
  l.ok = load_server_config(kMain, l.config, l.errors, fs.reader());
  return l;
}

}  // namespace

TEST(RuntimeMappings, SpecUsesTheConfigSyntax) {
  Mapping a = spec("1234 = 192.168.10.5:22");
  EXPECT_EQ("0.0.0.0:1234", a.public_name());
  EXPECT_EQ("192.168.10.5:22", a.target_name());
  EXPECT_FALSE(a.udp);
  EXPECT_EQ("default", a.tag);
  Mapping u = spec("127.0.0.1:5353/udp = 10.0.0.1:53", "site-b");
  EXPECT_EQ("127.0.0.1:5353/udp", u.public_name());
  EXPECT_TRUE(u.udp);
  EXPECT_EQ("site-b", u.tag);
  Mapping v6 = spec("[::1]:2222 = db.internal:5432");
  EXPECT_EQ("[::1]:2222", v6.public_name());
  EXPECT_EQ("db.internal:5432", v6.target_name());
}

TEST(RuntimeMappings, SpecErrorsAreTheParsersMessages) {
  EXPECT_NE(std::string::npos, spec_error("1234 = nowhere").find("bad target 'nowhere' for 1234"))
      << spec_error("1234 = nowhere");
  EXPECT_NE(std::string::npos, spec_error("1234 =").find("has no target"));
  EXPECT_NE(std::string::npos, spec_error("99999 = 10.0.0.1:22").find("bad public port"));
  EXPECT_NE(std::string::npos, spec_error("host.example:80 = 10.0.0.1:22").find("IP address"));
  EXPECT_NE(std::string::npos, spec_error("1234/sctp = 10.0.0.1:22").find("/tcp or /udp"));
  EXPECT_NE(std::string::npos, spec_error("1234 10.0.0.1:22").find("PUBLIC = TARGET"));
  EXPECT_NE(std::string::npos, spec_error("1 = 10.0.0.1:1\n2 = 10.0.0.1:2").find("one mapping"));
  EXPECT_NE(std::string::npos, spec_error("[RULES] = x").find("malformed"));
  EXPECT_NE(std::string::npos, spec_error("1234 = 10.0.0.1:22", "two words").find("bad tag"));
}

TEST(RuntimeMappings, RenderedFileReadsBackTheSame) {
  std::vector<Mapping> in{spec("1234 = 192.168.10.5:22"),
                          spec("127.0.0.1:5353/udp = 10.0.0.1:53", "site-b"),
                          spec("[::1]:2222 = db.internal:5432", "db"),
                          spec("0.0.0.0:80 = 10.0.0.2:8080")};
  std::string text = render_state_file(in);
  EXPECT_NE(std::string::npos, text.find("\n[MAPPER]\n1234 = 192.168.10.5:22\n"
                                         "127.0.0.1:5353/udp = 10.0.0.1:53\n")) << text;
  EXPECT_NE(std::string::npos, text.find("\n[TAG]\n127.0.0.1:5353/udp = site-b\n[::1]:2222 = db\n"))
      << text;
  std::vector<Mapping> out;
  std::vector<ConfigError> errors;
  ASSERT_TRUE(parse_mapping_text(kState, text, out, errors)) << errors.front().str();
  ASSERT_EQ(in.size(), out.size());
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(in[i].public_name(), out[i].public_name());
    EXPECT_EQ(in[i].target_name(), out[i].target_name());
    EXPECT_EQ(in[i].tag, out[i].tag);
    EXPECT_TRUE(out[i].runtime);
    EXPECT_EQ(kState, out[i].file);
    EXPECT_EQ(state_file_line(i), out[i].line);
  }
  EXPECT_EQ(render_state_file(out), text);
  std::vector<Mapping> none;
  EXPECT_TRUE(parse_mapping_text(kState, render_state_file({}), none, errors));
  EXPECT_TRUE(none.empty());
}

TEST(RuntimeMappings, MalformedStateTextNamesFileAndLine) {
  std::vector<Mapping> out;
  std::vector<ConfigError> errors;
  std::string text = "[MAPPER]\n1234 = 10.0.0.1:22\n1235 = nowhere\n[RULES]\nALLOW = 10.0.0.0/8\n"
                     "[DEFAULT]\n[MAPPER]\n1234 = 10.0.0.1:23\n";
  EXPECT_FALSE(parse_mapping_text(kState, text, out, errors));
  std::string all;
  for (const auto& e : errors) all += e.str() + "\n";
  EXPECT_NE(std::string::npos, all.find(std::string(kState) + ":3: bad target 'nowhere'")) << all;
  EXPECT_NE(std::string::npos, all.find(std::string(kState) + ":4: [RULES] in a state file")) << all;
  EXPECT_NE(std::string::npos, all.find(std::string(kState) + ":6: unknown section [DEFAULT] (a state file holds [MAPPER] and [TAG] only)")) << all;
  EXPECT_NE(std::string::npos, all.find(std::string(kState) + ":8: public port 1234 is already mapped at " +
                                        kState + ":2"))
      << all;
  EXPECT_TRUE(out.empty());
}

TEST(RuntimeMappings, PublicNameOfWhatAnOperatorTypes) {
  std::string name, err;
  ASSERT_TRUE(public_name_of("1234", name, err)) << err;
  EXPECT_EQ("0.0.0.0:1234", name);
  ASSERT_TRUE(public_name_of("0.0.0.0:1234", name, err)) << err;
  EXPECT_EQ("0.0.0.0:1234", name);
  ASSERT_TRUE(public_name_of("127.0.0.1:53/udp", name, err)) << err;
  EXPECT_EQ("127.0.0.1:53/udp", name);
  ASSERT_TRUE(public_name_of("[::1]:22", name, err)) << err;
  EXPECT_EQ("[::1]:22", name);
  EXPECT_FALSE(public_name_of("1234/icmp", name, err));
  EXPECT_FALSE(public_name_of("port", name, err));
  EXPECT_NE(std::string::npos, err.find("bad mapping 'port'")) << err;
}

TEST(RuntimeMappings, ClashesAreTheConfigsOverlaps) {
  std::vector<Mapping> file{spec("127.0.0.1:1234 = 10.0.0.1:22"), spec("5353/udp = 10.0.0.1:53")};
  file[0].file = kMain;
  file[0].line = 7;
  EXPECT_EQ(&file[0], find_clash(spec("1234 = 10.0.0.9:1"), file));  // wildcard vs one address
  EXPECT_EQ(&file[0], find_clash(spec("127.0.0.1:1234 = 10.0.0.9:1"), file));
  EXPECT_EQ(nullptr, find_clash(spec("127.0.0.2:1234 = 10.0.0.9:1"), file));
  EXPECT_EQ(nullptr, find_clash(spec("1234/udp = 10.0.0.9:1"), file));  // other protocol
  EXPECT_EQ(nullptr, find_clash(spec("[::]:1234 = 10.0.0.9:1"), file));  // other family
  EXPECT_EQ(&file[1], find_clash(spec("10.1.1.1:5353/udp = 10.0.0.9:1"), file));
  EXPECT_EQ(nullptr, find_clash(spec("5353 = 10.0.0.9:1"), file));
  EXPECT_EQ("public port 0.0.0.0:1234 clashes with 127.0.0.1:1234 -> 10.0.0.1:22, defined in " +
                std::string(kMain) + ":7",
            clash_reason(spec("1234 = 10.0.0.9:1"), file[0]));
  Mapping rt = file[0];
  rt.runtime = true;
  rt.file = kState;
  EXPECT_NE(std::string::npos, clash_reason(spec("1234 = 10.0.0.9:1"), rt).find("added at run time ("));
}

TEST(RuntimeMappings, LoadMergesTheStateFileAfterTheConfig) {
  std::string state = render_state_file({spec("2000 = 10.0.0.1:22", "site-b"),
                                         spec("127.0.0.1:53/udp = 10.0.0.1:53")});
  Loaded l = load("[MAPPER]\n1000 = 10.0.0.1:80\n[RULES]\nDENY = 192.0.2.0/24\n"
                  "MAX_CONNECTIONS = 5\n",
                  &state);
  ASSERT_TRUE(l.ok) << l.dump();
  ASSERT_EQ(3u, l.config.mappings.size());
  EXPECT_FALSE(l.config.mappings[0].runtime);
  const Mapping& r = l.config.mappings[1];
  EXPECT_TRUE(r.runtime);
  EXPECT_EQ("0.0.0.0:2000", r.public_name());
  EXPECT_EQ("site-b", r.tag) << "a runtime mapping keeps its own tag";
  EXPECT_EQ(kState, r.file);
  EXPECT_EQ(state_file_line(0), r.line);
  EXPECT_EQ("deny 192.0.2.0/24", r.access.str()) << "global rules cover runtime mappings";
  EXPECT_EQ(5, r.max_connections);
  EXPECT_EQ(2u, l.config.runtime_entries.size());
  EXPECT_TRUE(l.config.shadowed.empty());
}

TEST(RuntimeMappings, MissingStateFileIsNoMappingsAndNoneIsNotRead) {
  Loaded l = load("[MAPPER]\n1000 = 10.0.0.1:80\n", nullptr);
  ASSERT_TRUE(l.ok) << l.dump();
  EXPECT_EQ(1u, l.config.mappings.size());
  EXPECT_EQ(kState, l.config.state_file);
  std::string state = "garbage\n";
  Loaded off = load("STATE_FILE = none\n[MAPPER]\n1000 = 10.0.0.1:80\n", &state);
  ASSERT_TRUE(off.ok) << off.dump();
  EXPECT_EQ("", off.config.state_file);
  EXPECT_TRUE(off.config.runtime_entries.empty());
}

TEST(RuntimeMappings, MalformedStateFileFailsTheLoadAtItsLine) {
  std::string state = "[MAPPER]\n2000 = 10.0.0.1:22\n2001 = 10.0.0.1\n";
  Loaded l = load("[MAPPER]\n1000 = 10.0.0.1:80\n", &state);
  EXPECT_FALSE(l.ok);
  ASSERT_EQ(1u, l.errors.size()) << l.dump();
  EXPECT_EQ(kState, l.errors[0].file);
  EXPECT_EQ(3, l.errors[0].line);
}

TEST(RuntimeMappings, EntryTheFileNowMapsIsShadowedNotAnError) {
  std::string state = render_state_file({spec("2000 = 10.0.0.1:22"), spec("3000 = 10.0.0.1:23")});
  Loaded l = load("[MAPPER]\n127.0.0.1:2000 = 10.0.0.9:80\n", &state);
  ASSERT_TRUE(l.ok) << l.dump();
  ASSERT_EQ(2u, l.config.mappings.size());
  EXPECT_EQ("0.0.0.0:3000", l.config.mappings[1].public_name());
  ASSERT_EQ(1u, l.config.shadowed.size());
  EXPECT_EQ("0.0.0.0:2000", l.config.shadowed[0].mapping.public_name());
  EXPECT_EQ(2u, l.config.runtime_entries.size()) << "a shadowed entry stays in the state file";
  EXPECT_EQ(std::string(kState) + ":" + std::to_string(state_file_line(0)) +
                ": runtime mapping 0.0.0.0:2000 -> 10.0.0.1:22 is not listened on: the "
                "configuration maps 127.0.0.1:2000 at " + kMain + ":5 (forward-ctl remove "
                "0.0.0.0:2000 drops it)",
            l.config.shadowed[0].str());
}

TEST(RuntimeMappings, RuleMustNameAMappingOfTheConfiguration) {
  // Else removing the runtime mapping would break the next reload.
  std::string state = render_state_file({spec("2000 = 10.0.0.1:22")});
  Loaded l = load("[MAPPER]\n1000 = 10.0.0.1:80\n[RULES]\n2000.ALLOW = 10.0.0.0/8\n", &state);
  EXPECT_FALSE(l.ok);
  EXPECT_NE(std::string::npos, l.dump().find("rule for 2000, which no mapping uses")) << l.dump();
}

TEST(RuntimeMappings, AddedMappingGetsTheConfigsRules) {
  Loaded l = load("[MAPPER]\n1000 = 10.0.0.1:80\n[RULES]\nALLOW = 10.0.0.0/8\n1000.DENY = 10.9.0.0/16\n"
                  "MAX_CONNECTIONS = 3\n1000.MAX_CONNECTIONS = 9\n",
                  nullptr);
  ASSERT_TRUE(l.ok) << l.dump();
  Mapping m = spec("2000 = 10.0.0.1:22", "t");
  apply_config_rules(l.config, m);
  EXPECT_EQ("allow 10.0.0.0/8", m.access.str());
  EXPECT_EQ(3, m.max_connections);
  EXPECT_EQ("t", m.tag);
}
