// Unit tests for the server configuration loader (src/config.{h,cc}).
// Files are served from memory through the FileReader hook; nothing touches disk.
#include "config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "fake_files.h"

namespace {

const char kMain[] = "/etc/tf/forward_server.cfg";
const char kPorts[] = "/etc/tf/port_mapper.cfg";
const char kState[] = "/var/lib/tcp-forward/runtime.cfg";  // STATE_FILE's default, read last

struct Loaded {
  bool ok = false;
  ServerConfig config;
  std::vector<ConfigError> errors;
  std::vector<std::string> reads;

  std::string dump() const {
    std::string s;
    for (const auto& e : errors) s += "  " + e.str() + "\n";
    return s.empty() ? "  (no errors)\n" : s;
  }
};

// Most tests are about mappings and line numbers, not keys: unless told
// otherwise, the main file gets "AUTH = none" appended (after every line a
// test looks at, so no line number moves) to satisfy the key requirement.
Loaded load(const std::map<std::string, std::string>& files, const std::string& path = kMain,
            bool add_auth_none = true) {
  Files fs;
  fs.files = files;
  auto main = fs.files.find(path);
  if (add_auth_none && main != fs.files.end() && main->second.find("AUTH") == std::string::npos)
    main->second += "\n[DEFAULT]\nAUTH = none\n";
  Loaded l;
  l.ok = load_server_config(path, l.config, l.errors, fs.reader());
  l.reads = fs.reads;
  return l;
}

Loaded load_main(const std::string& text) { return load({{kMain, text}}); }

// The load must fail with exactly one error, at file:line, whose message
// contains `part`.
void expect_one_error(const Loaded& l, const std::string& file, int line, const std::string& part) {
  EXPECT_FALSE(l.ok);
  ASSERT_EQ(1u, l.errors.size()) << l.dump();
  const ConfigError& e = l.errors[0];
  EXPECT_EQ(file, e.file) << l.dump();
  EXPECT_EQ(line, e.line) << l.dump();
  EXPECT_NE(std::string::npos, e.message.find(part)) << "expected '" << part << "' in: " << e.message;
  if (line > 0) {
    EXPECT_EQ(file + ":" + std::to_string(line) + ": " + e.message, e.str());
  } else {
    EXPECT_EQ(file + ": " + e.message, e.str());
  }
}

const char kSeedDefaults[] =
    "[DEFAULT]\n"
    "INNER_PORT = 1111\n"
    "INNER_ADDR = 0.0.0.0\n"
    "OUTER_PORTS_FILE = port_mapper.cfg\n"
    "LOG_LEVEL = info\n";

const char kSeedMapper[] =
    "[MAPPER]\n"
    "1234 = 192.168.10.5:80\n"
    "4444 = 192.168.10.5:22\n"
    "8080 = inner-web.example:8080     ; comment\n"
    "[2001:db8::1]:2222 = [fd00::5]:22\n";

void expect_mapping(const Mapping& m, const std::string& bind, uint16_t port,
                    const std::string& target, uint16_t target_port, const std::string& file,
                    int line) {
  EXPECT_EQ(bind, m.bind_host);
  EXPECT_EQ(port, m.public_port);
  EXPECT_EQ(target, m.target_host);
  EXPECT_EQ(target_port, m.target_port);
  EXPECT_EQ(file, m.file);
  EXPECT_EQ(line, m.line);
}

}  // namespace

// ---------------------------------------------------------------------------
// Accepted configurations

TEST(ConfigLoad, SeedSplitIntoMainAndPortsFile) {
  Loaded l = load({{kMain, kSeedDefaults}, {kPorts, kSeedMapper}});
  ASSERT_TRUE(l.ok) << l.dump();
  EXPECT_TRUE(l.errors.empty());
  const ServerConfig& c = l.config;
  EXPECT_EQ(kMain, c.path);
  EXPECT_EQ(1111, c.inner_port);
  EXPECT_EQ("0.0.0.0", c.inner_addr);
  EXPECT_EQ(kPorts, c.outer_ports_file);
  EXPECT_EQ(LogLevel::info, c.log_level);
  ASSERT_EQ(4u, c.mappings.size());
  expect_mapping(c.mappings[0], "", 1234, "192.168.10.5", 80, kPorts, 2);
  expect_mapping(c.mappings[1], "", 4444, "192.168.10.5", 22, kPorts, 3);
  expect_mapping(c.mappings[2], "", 8080, "inner-web.example", 8080, kPorts, 4);
  expect_mapping(c.mappings[3], "2001:db8::1", 2222, "fd00::5", 22, kPorts, 5);
  EXPECT_EQ("0.0.0.0:1234", c.mappings[0].public_name());
  EXPECT_EQ("192.168.10.5:80", c.mappings[0].target_name());
  EXPECT_EQ("inner-web.example:8080", c.mappings[2].target_name());
  EXPECT_EQ("[2001:db8::1]:2222", c.mappings[3].public_name());
  EXPECT_EQ("[fd00::5]:22", c.mappings[3].target_name());
  EXPECT_EQ((std::vector<std::string>{kMain, kPorts, kState}), l.reads);
}

TEST(ConfigLoad, SeedInOneFile) {
  std::string text = std::string(
                         "[DEFAULT]\n"
                         "INNER_PORT = 1111\n"
                         "INNER_ADDR = 0.0.0.0\n"
                         "LOG_LEVEL = info\n") +
                     kSeedMapper;
  Loaded l = load_main(text);
  ASSERT_TRUE(l.ok) << l.dump();
  EXPECT_EQ("", l.config.outer_ports_file);
  ASSERT_EQ(4u, l.config.mappings.size());
  expect_mapping(l.config.mappings[0], "", 1234, "192.168.10.5", 80, kMain, 6);
  expect_mapping(l.config.mappings[2], "", 8080, "inner-web.example", 8080, kMain, 8);
  expect_mapping(l.config.mappings[3], "2001:db8::1", 2222, "fd00::5", 22, kMain, 9);
  EXPECT_EQ((std::vector<std::string>{kMain, kState}), l.reads);
}

TEST(ConfigLoad, MappingsMergedFromBothFiles) {
  std::string main_text = std::string(kSeedDefaults) +
                          "[MAPPER]\n"                  // 6
                          "1234 = 192.168.10.5:80\n"    // 7
                          "4444 = 192.168.10.5:22\n";   // 8
  std::string ports =
      "[MAPPER]\n"                       // 1
      "8080 = inner-web.example:8080\n"  // 2
      "[::1]:2222 = [fd00::5]:22\n";     // 3
  Loaded l = load({{kMain, main_text}, {kPorts, ports}});
  ASSERT_TRUE(l.ok) << l.dump();
  ASSERT_EQ(4u, l.config.mappings.size());
  expect_mapping(l.config.mappings[0], "", 1234, "192.168.10.5", 80, kMain, 7);
  expect_mapping(l.config.mappings[1], "", 4444, "192.168.10.5", 22, kMain, 8);
  expect_mapping(l.config.mappings[2], "", 8080, "inner-web.example", 8080, kPorts, 2);
  expect_mapping(l.config.mappings[3], "::1", 2222, "fd00::5", 22, kPorts, 3);
}

TEST(ConfigLoad, OuterPortsFileRelativeToConfigFolder) {
  std::string main_text = "[DEFAULT]\nOUTER_PORTS_FILE = sub/ports.cfg\n";
  Loaded l = load({{kMain, main_text}, {"/etc/tf/sub/ports.cfg", "1234 = 10.0.0.1:80\n"}});
  ASSERT_TRUE(l.ok) << l.dump();
  EXPECT_EQ("/etc/tf/sub/ports.cfg", l.config.outer_ports_file);
  ASSERT_EQ(1u, l.config.mappings.size());
  EXPECT_EQ("/etc/tf/sub/ports.cfg", l.config.mappings[0].file);
}

TEST(ConfigLoad, OuterPortsFileRelativeToCurrentFolder) {
  // A config path without a folder: the ports file is next to it in ".".
  Loaded l = load({{"forward_server.cfg", "[DEFAULT]\nOUTER_PORTS_FILE = port_mapper.cfg\n"},
                   {"./port_mapper.cfg", "1234 = 10.0.0.1:80\n"}},
                  "forward_server.cfg");
  ASSERT_TRUE(l.ok) << l.dump();
  EXPECT_EQ("./port_mapper.cfg", l.config.outer_ports_file);
  EXPECT_EQ(1u, l.config.mappings.size());
}

TEST(ConfigLoad, OuterPortsFileNextToConfigInRootFolder) {
  // BUG (src/config.cc dir_of + join): a config in "/" resolves its ports
  // file to "//port_mapper.cfg" instead of "/port_mapper.cfg".
  Loaded l = load({{"/forward_server.cfg", "[DEFAULT]\nOUTER_PORTS_FILE = port_mapper.cfg\n"},
                   {"/port_mapper.cfg", "1234 = 10.0.0.1:80\n"}},
                  "/forward_server.cfg");
  EXPECT_TRUE(l.ok) << l.dump();
  EXPECT_EQ("/port_mapper.cfg", l.config.outer_ports_file);
}

TEST(ConfigLoad, AbsoluteOuterPortsFile) {
  std::string main_text = "[DEFAULT]\nOUTER_PORTS_FILE = /srv/tf/ports.cfg\n";
  Loaded l = load({{kMain, main_text}, {"/srv/tf/ports.cfg", "[MAPPER]\n1234 = 10.0.0.1:80\n"}});
  ASSERT_TRUE(l.ok) << l.dump();
  EXPECT_EQ("/srv/tf/ports.cfg", l.config.outer_ports_file);
  ASSERT_EQ(1u, l.config.mappings.size());
  expect_mapping(l.config.mappings[0], "", 1234, "10.0.0.1", 80, "/srv/tf/ports.cfg", 2);
  EXPECT_EQ((std::vector<std::string>{kMain, "/srv/tf/ports.cfg", kState}), l.reads);
}

TEST(ConfigLoad, PortsFileWithoutSectionHeader) {
  std::string ports =
      "# mappings, one per line\n"     // 1
      "1234 = 192.168.10.5:80\n"       // 2
      "[::1]:2222 = [fd00::5]:22\n"    // 3
      "[MAPPER]\n"                     // 4
      "4444 = 192.168.10.5:22\n";      // 5
  Loaded l = load({{kMain, kSeedDefaults}, {kPorts, ports}});
  ASSERT_TRUE(l.ok) << l.dump();
  ASSERT_EQ(3u, l.config.mappings.size());
  expect_mapping(l.config.mappings[0], "", 1234, "192.168.10.5", 80, kPorts, 2);
  expect_mapping(l.config.mappings[1], "::1", 2222, "fd00::5", 22, kPorts, 3);
  expect_mapping(l.config.mappings[2], "", 4444, "192.168.10.5", 22, kPorts, 5);
}

TEST(ConfigLoad, Defaults) {
  for (const char* text : {"", "[DEFAULT]\n", "; nothing here\n\n# at all\n", "[MAPPER]\n"}) {
    SCOPED_TRACE(text);
    Loaded l = load_main(text);
    ASSERT_TRUE(l.ok) << l.dump();
    EXPECT_EQ(kMain, l.config.path);
    EXPECT_EQ(1111, l.config.inner_port);
    EXPECT_EQ("0.0.0.0", l.config.inner_addr);
    EXPECT_EQ(LogLevel::info, l.config.log_level);
    EXPECT_EQ("", l.config.outer_ports_file);
    EXPECT_TRUE(l.config.mappings.empty());
  }
}

TEST(ConfigLoad, ValuesAreApplied) {
  Loaded l = load_main(
      "[DEFAULT]\n"
      "INNER_PORT = 2222\n"
      "INNER_ADDR = 10.1.2.3\n"
      "LOG_LEVEL = debug\n");
  ASSERT_TRUE(l.ok) << l.dump();
  EXPECT_EQ(2222, l.config.inner_port);
  EXPECT_EQ("10.1.2.3", l.config.inner_addr);
  EXPECT_EQ(LogLevel::debug, l.config.log_level);
}

TEST(ConfigLoad, Ipv6InnerAddr) {
  for (const char* addr : {"::", "::1", "fd00::1"}) {
    Loaded l = load_main(std::string("[DEFAULT]\nINNER_ADDR = ") + addr + "\n");
    ASSERT_TRUE(l.ok) << addr << "\n" << l.dump();
    EXPECT_EQ(addr, l.config.inner_addr);
  }
}

TEST(ConfigLoad, LogLevels) {
  struct {
    const char* text;
    LogLevel level;
  } cases[] = {{"debug", LogLevel::debug},     {"info", LogLevel::info},
               {"notice", LogLevel::notice},   {"warning", LogLevel::warning},
               {"error", LogLevel::error},     {"ERROR", LogLevel::error},
               {"Warning", LogLevel::warning}};
  for (const auto& c : cases) {
    Loaded l = load_main(std::string("[DEFAULT]\nLOG_LEVEL = ") + c.text + "\n");
    ASSERT_TRUE(l.ok) << c.text << "\n" << l.dump();
    EXPECT_EQ(c.level, l.config.log_level) << c.text;
  }
}

TEST(ConfigLoad, KeysAndSectionsCaseInsensitive) {
  std::string main_text =
      "[default]\n"
      "inner_port = 2222\n"
      "Inner_Addr = 127.0.0.1\n"
      "outer_ports_file = port_mapper.cfg\n"
      "Log_Level = NOTICE\n"
      "[Mapper]\n"
      "1234 = 10.0.0.1:80\n";
  Loaded l = load({{kMain, main_text}, {kPorts, "[mapper]\n4444 = 10.0.0.1:22\n"}});
  ASSERT_TRUE(l.ok) << l.dump();
  EXPECT_EQ(2222, l.config.inner_port);
  EXPECT_EQ("127.0.0.1", l.config.inner_addr);
  EXPECT_EQ(kPorts, l.config.outer_ports_file);
  EXPECT_EQ(LogLevel::notice, l.config.log_level);
  ASSERT_EQ(2u, l.config.mappings.size());
  EXPECT_EQ(1234, l.config.mappings[0].public_port);
  EXPECT_EQ(4444, l.config.mappings[1].public_port);
}

TEST(ConfigLoad, Comments) {
  std::string main_text =
      "; leading comment\n"                                 // 1
      "# hash comment\n"                                    // 2
      "   # indented hash comment\n"                        // 3
      "\t; indented semicolon comment\n"                    // 4
      "[DEFAULT]   ; the defaults\n"                        // 5
      "INNER_PORT = 2222 ; inline comment\n"                // 6
      "INNER_ADDR = 127.0.0.1\t; tab before it\n"           // 7
      "LOG_LEVEL = warning;not-a-comment-without-space\n"   // 8: refused
      "[MAPPER] ; mappings\n"                               // 9
      "\n"                                                  // 10
      "1234 = 192.168.10.5:80 ; web\n"                      // 11
      "# 4444 = 192.168.10.5:22\n"                          // 12
      "; 5555 = 192.168.10.5:22\n";                         // 13
  Loaded l = load_main(main_text);
  // ';' starts a comment only after whitespace (inih's rule), so line 8's
  // value is "warning;not-a-comment-without-space".
  expect_one_error(l, kMain, 8, "LOG_LEVEL");

  main_text.replace(main_text.find("warning;"), 8, "warning ;");
  l = load_main(main_text);
  ASSERT_TRUE(l.ok) << l.dump();
  EXPECT_EQ(2222, l.config.inner_port);
  EXPECT_EQ("127.0.0.1", l.config.inner_addr);
  EXPECT_EQ(LogLevel::warning, l.config.log_level);
  ASSERT_EQ(1u, l.config.mappings.size());
  expect_mapping(l.config.mappings[0], "", 1234, "192.168.10.5", 80, kMain, 11);
}

// '#' starts a comment only at the start of a line (inih); after a value
// the message says how to write an inline comment instead of calling
// "22   # ssh" a bad port.
TEST(ConfigLoad, HashAfterAValueNamesTheInlineCommentRule) {
  Loaded l = load_main("[MAPPER]\n2222 = 192.168.10.5:22   # ssh\n");
  expect_one_error(l, kMain, 2, "inline comments start with ' ;'");
  l = load_main("[DEFAULT]\nLOG_LEVEL = info\t# chatty\n[MAPPER]\n2222 = 10.0.0.1:22\n");
  expect_one_error(l, kMain, 2, "inline comments start with ' ;'");
  // Inside a value, or after a ';' comment, '#' is just a character.
  l = load_main("[MAPPER]\n2222 = 10.0.0.1:22 ; ssh # admin\n");
  EXPECT_TRUE(l.ok) << l.dump();
  l = load_main("[MAPPER]\n2222 = 10.0.0.1:22#x\n");
  EXPECT_FALSE(l.ok);
  EXPECT_EQ(std::string::npos, l.dump().find("inline comments")) << l.dump();
}

TEST(ConfigLoad, CrLfLineEndings) {
  Loaded l = load(
      {{kMain, "[DEFAULT]\r\nINNER_PORT = 2222\r\nOUTER_PORTS_FILE = port_mapper.cfg\r\n"},
       {kPorts, "[MAPPER]\r\n1234 = 10.0.0.1:80\r\n[::1]:22 = [fd00::5]:22 ; c\r\n"}});
  ASSERT_TRUE(l.ok) << l.dump();
  EXPECT_EQ(2222, l.config.inner_port);
  EXPECT_EQ(kPorts, l.config.outer_ports_file);
  ASSERT_EQ(2u, l.config.mappings.size());
  expect_mapping(l.config.mappings[1], "::1", 22, "fd00::5", 22, kPorts, 3);
}

TEST(ConfigLoad, NoTrailingNewline) {
  Loaded l = load_main("[MAPPER]\n1234 = 10.0.0.1:80");
  ASSERT_TRUE(l.ok) << l.dump();
  ASSERT_EQ(1u, l.config.mappings.size());
  EXPECT_EQ(80, l.config.mappings[0].target_port);
}

TEST(ConfigLoad, WhitespaceAroundKeysAndValues) {
  Loaded l = load_main("[MAPPER]\n   1234=10.0.0.1:80   \n\t[::1]:22\t=\t[fd00::5]:22\n");
  ASSERT_TRUE(l.ok) << l.dump();
  ASSERT_EQ(2u, l.config.mappings.size());
  expect_mapping(l.config.mappings[0], "", 1234, "10.0.0.1", 80, kMain, 2);
  expect_mapping(l.config.mappings[1], "::1", 22, "fd00::5", 22, kMain, 3);
}

TEST(ConfigLoad, Ipv6BindAndTarget) {
  Loaded l = load_main(
      "[MAPPER]\n"
      "[::1]:2222 = [fd00::5]:22\n"
      "[2001:db8::1]:2222 = [2001:db8::99]:2222\n"
      "[::]:80 = 10.0.0.1:80\n");
  ASSERT_TRUE(l.ok) << l.dump();
  ASSERT_EQ(3u, l.config.mappings.size());
  expect_mapping(l.config.mappings[0], "::1", 2222, "fd00::5", 22, kMain, 2);
  EXPECT_EQ("[::1]:2222", l.config.mappings[0].public_name());
  EXPECT_EQ("[fd00::5]:22", l.config.mappings[0].target_name());
  expect_mapping(l.config.mappings[1], "2001:db8::1", 2222, "2001:db8::99", 2222, kMain, 3);
  expect_mapping(l.config.mappings[2], "::", 80, "10.0.0.1", 80, kMain, 4);
}

TEST(ConfigLoad, Ipv4BindAddress) {
  Loaded l = load_main("[MAPPER]\n127.0.0.1:8080 = 10.0.0.1:80\n10.0.0.2:8080 = 10.0.0.1:81\n");
  ASSERT_TRUE(l.ok) << l.dump();
  ASSERT_EQ(2u, l.config.mappings.size());
  expect_mapping(l.config.mappings[0], "127.0.0.1", 8080, "10.0.0.1", 80, kMain, 2);
  EXPECT_EQ("127.0.0.1:8080", l.config.mappings[0].public_name());
  expect_mapping(l.config.mappings[1], "10.0.0.2", 8080, "10.0.0.1", 81, kMain, 3);
}

TEST(ConfigLoad, HostnameTargets) {
  Loaded l = load_main(
      "[MAPPER]\n"
      "8080 = inner-web.example:8080\n"
      "2222 = localhost:22\n"
      "3333 = db.internal.example.:5432\n");
  ASSERT_TRUE(l.ok) << l.dump();
  ASSERT_EQ(3u, l.config.mappings.size());
  EXPECT_EQ("inner-web.example", l.config.mappings[0].target_host);
  EXPECT_EQ("localhost", l.config.mappings[1].target_host);
  EXPECT_EQ("db.internal.example.", l.config.mappings[2].target_host);
  EXPECT_EQ(5432, l.config.mappings[2].target_port);
}

TEST(ConfigLoad, SamePortOnDifferentBindAddresses) {
  Loaded l = load_main(
      "[MAPPER]\n"
      "127.0.0.1:1234 = 10.0.0.1:80\n"
      "127.0.0.2:1234 = 10.0.0.1:81\n"
      "[::1]:1234 = 10.0.0.1:82\n");
  ASSERT_TRUE(l.ok) << l.dump();
  EXPECT_EQ(3u, l.config.mappings.size());
}

TEST(ConfigLoad, InnerPortOnOtherAddressMayBeMapped) {
  Loaded l = load_main(
      "[DEFAULT]\nINNER_ADDR = 127.0.0.1\n"
      "[MAPPER]\n127.0.0.2:1111 = 10.0.0.1:80\n");
  ASSERT_TRUE(l.ok) << l.dump();
  EXPECT_EQ(1u, l.config.mappings.size());
}

TEST(ConfigLoad, LineOfExactlyMaxLengthAccepted) {
  std::string comment = "# " + std::string(188, 'c');
  ASSERT_EQ(190u, comment.size());
  Loaded l = load_main(comment + "\n[MAPPER]\n1234 = 10.0.0.1:80\n");
  ASSERT_TRUE(l.ok) << l.dump();
  EXPECT_EQ(1u, l.config.mappings.size());
}

TEST(ConfigLoad, ExistingErrorsInVectorArePreserved) {
  std::vector<ConfigError> errors = {{"earlier.cfg", 3, "earlier problem"}};
  Files fs;
  fs.files[kMain] = "[MAPPER]\n1234 = 10.0.0.1:80\n[DEFAULT]\nAUTH = none\n";
  ServerConfig c;
  EXPECT_TRUE(load_server_config(kMain, c, errors, fs.reader()));
  ASSERT_EQ(1u, errors.size());
  EXPECT_EQ("earlier.cfg", errors[0].file);
  EXPECT_EQ(1u, c.mappings.size());
}

// ---------------------------------------------------------------------------
// Errors: each at its file and line

TEST(ConfigError, StrFormat) {
  EXPECT_EQ("/a/b.cfg:12: oops", (ConfigError{"/a/b.cfg", 12, "oops"}).str());
  EXPECT_EQ("/a/b.cfg: oops", (ConfigError{"/a/b.cfg", 0, "oops"}).str());
}

TEST(ConfigErrors, UnknownKeyInDefault) {
  Loaded l = load_main("[DEFAULT]\nINNER_PORT = 1111\nINNER_PROT = 1111\n");
  expect_one_error(l, kMain, 3, "unknown key 'INNER_PROT'");
}

TEST(ConfigErrors, UnknownSection) {
  Loaded l = load_main(
      "[DEFAULT]\n"
      "INNER_PORT = 1111\n"
      "[SERVER]\n"
      "FOO = bar\n"          // not reported again: the section is already wrong
      "1234 = 10.0.0.1:80\n"
      "[MAPPER]\n"
      "4444 = 10.0.0.1:22\n");
  expect_one_error(l, kMain, 3, "unknown section [SERVER]");
}

TEST(ConfigErrors, DefaultSectionInPortsFile) {
  Loaded l = load({{kMain, kSeedDefaults},
                   {kPorts, "[MAPPER]\n1234 = 10.0.0.1:80\n[DEFAULT]\nINNER_PORT = 2222\n"}});
  expect_one_error(l, kPorts, 3, "unknown section [DEFAULT]");
}

TEST(ConfigErrors, BadInnerPort) {
  for (const char* v : {"0", "70000", "65536", "abc", "-1", "11 11"}) {
    SCOPED_TRACE(v);
    Loaded l = load_main(std::string("[DEFAULT]\nINNER_ADDR = 0.0.0.0\nINNER_PORT = ") + v + "\n");
    expect_one_error(l, kMain, 3, "INNER_PORT");
  }
  Loaded l = load_main("[DEFAULT]\nINNER_PORT =\n");
  expect_one_error(l, kMain, 2, "INNER_PORT");
}

TEST(ConfigErrors, BadInnerAddr) {
  for (const char* v : {"localhost", "inner.example", "300.1.1.1", "[::1]", "0.0.0.0:1111", "*"}) {
    SCOPED_TRACE(v);
    Loaded l = load_main(std::string("[DEFAULT]\nINNER_ADDR = ") + v + "\n");
    expect_one_error(l, kMain, 2, "INNER_ADDR");
  }
}

TEST(ConfigErrors, BadLogLevel) {
  for (const char* v : {"verbose", "", "7", "information"}) {
    SCOPED_TRACE(v);
    Loaded l = load_main(std::string("[DEFAULT]\n\nLOG_LEVEL = ") + v + "\n");
    expect_one_error(l, kMain, 3, "LOG_LEVEL");
  }
}

TEST(ConfigErrors, EmptyOuterPortsFile) {
  Loaded l = load_main("[DEFAULT]\nOUTER_PORTS_FILE =\n");
  expect_one_error(l, kMain, 2, "OUTER_PORTS_FILE");
}

TEST(ConfigErrors, BadPublicPort) {
  for (const char* key : {"0", "70000", "abc", "12a", "1.2.3.4:", "1.2.3.4:0"}) {
    SCOPED_TRACE(key);
    Loaded l = load_main(std::string("[MAPPER]\n4444 = 10.0.0.1:22\n") + key + " = 10.0.0.1:80\n");
    expect_one_error(l, kMain, 3, "bad public port");
  }
}

TEST(ConfigErrors, HostnameAsPublicBindAddress) {
  Loaded l = load_main("[MAPPER]\nmyhost.example:1234 = 10.0.0.1:80\n");
  expect_one_error(l, kMain, 2, "bind address must be an IP address");
}

TEST(ConfigErrors, BadTarget) {
  struct {
    const char* value;
    const char* part;
  } cases[] = {
      {"192.168.10.5", "bad target"},         // missing port
      {"inner-web.example", "bad target"},    // missing port
      {"192.168.10.5:0", "bad target"},
      {"192.168.10.5:99999", "bad target"},
      {"192.168.10.5:ssh", "bad target"},
      {"fd00::5:22", "brackets"},             // unbracketed IPv6
      {"[fd00::5]22", "bad target"},
      {"22", "bad target"},                    // a bare port is not a target
      {"300.1.1.1:80", "bad target"},
      {"bad_host!:80", "bad target"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.value);
    Loaded l = load_main(std::string("[MAPPER]\n\n1234 = ") + c.value + "\n");
    expect_one_error(l, kMain, 3, c.part);
  }
}

TEST(ConfigErrors, EmptyTarget) {
  Loaded l = load_main("[MAPPER]\n1234 =\n");
  expect_one_error(l, kMain, 2, "no target");
  l = load_main("[MAPPER]\n1234 =    ; nothing\n");
  expect_one_error(l, kMain, 2, "no target");
}

TEST(ConfigErrors, DuplicatePublicPortInMapper) {
  Loaded l = load_main(
      "[MAPPER]\n"                   // 1
      "1234 = 192.168.10.5:80\n"     // 2
      "4444 = 192.168.10.5:22\n"     // 3
      "1234 = 192.168.10.6:80\n");   // 4
  expect_one_error(l, kMain, 4, "already mapped at " + std::string(kMain) + ":2");
}

TEST(ConfigErrors, DuplicateWildcardAndSpecificAddress) {
  Loaded l = load_main(
      "[MAPPER]\n"
      "127.0.0.1:1234 = 192.168.10.5:80\n"
      "1234 = 192.168.10.5:81\n");
  expect_one_error(l, kMain, 3, "already mapped at " + std::string(kMain) + ":2");

  l = load_main(
      "[MAPPER]\n"
      "[::1]:22 = 192.168.10.5:80\n"
      "[::1]:22 = 192.168.10.5:81\n");
  expect_one_error(l, kMain, 3, "already mapped at " + std::string(kMain) + ":2");
}

TEST(ConfigErrors, ExplicitWildcardBindConflictsWithSpecificAddress) {
  // BUG (src/config.cc overlaps()): "0.0.0.0:1234" binds the same wildcard
  // socket as a bare "1234" (listener.cc maps "" to 0.0.0.0), and "1234"
  // next to "127.0.0.1:1234" is refused -- but "0.0.0.0:1234" next to
  // "127.0.0.1:1234" is accepted, and the second bind then fails at startup.
  Loaded l = load_main(
      "[MAPPER]\n"
      "0.0.0.0:1234 = 192.168.10.5:80\n"
      "127.0.0.1:1234 = 192.168.10.5:81\n");
  expect_one_error(l, kMain, 3, "already mapped at " + std::string(kMain) + ":2");
}

TEST(ConfigErrors, DuplicatePublicPortAcrossFiles) {
  std::string main_text = std::string(kSeedDefaults) +
                          "[MAPPER]\n"                  // 6
                          "1234 = 192.168.10.5:80\n";   // 7
  std::string ports =
      "[MAPPER]\n"                    // 1
      "4444 = 192.168.10.5:22\n"      // 2
      "1234 = 192.168.10.9:80\n";     // 3
  Loaded l = load({{kMain, main_text}, {kPorts, ports}});
  expect_one_error(l, kPorts, 3, "public port 1234 is already mapped at " + std::string(kMain) + ":7");
}

TEST(ConfigErrors, ThreeTimesTheSamePort) {
  // Each later duplicate is reported once, naming the first definition.
  Loaded l = load_main(
      "[MAPPER]\n"
      "1234 = 10.0.0.1:1\n"
      "1234 = 10.0.0.1:2\n"
      "1234 = 10.0.0.1:3\n");
  EXPECT_FALSE(l.ok);
  ASSERT_EQ(2u, l.errors.size()) << l.dump();
  EXPECT_EQ(3, l.errors[0].line);
  EXPECT_EQ(4, l.errors[1].line);
  EXPECT_NE(std::string::npos, l.errors[0].message.find(std::string(kMain) + ":2"));
  EXPECT_NE(std::string::npos, l.errors[1].message.find(std::string(kMain) + ":2"));
}

TEST(ConfigErrors, MappingOnInnerPort) {
  Loaded l = load_main("[MAPPER]\n1111 = 10.0.0.1:80\n");
  expect_one_error(l, kMain, 2, "public port 1111 is INNER_PORT");

  // INNER_PORT set after the mapping, mapping in the ports file.
  l = load({{kMain, "[DEFAULT]\nOUTER_PORTS_FILE = port_mapper.cfg\nINNER_PORT = 2222\n"},
            {kPorts, "1234 = 10.0.0.1:80\n2222 = 10.0.0.1:81\n"}});
  expect_one_error(l, kPorts, 2, "INNER_PORT");

  // A specific bind address on the wildcard INNER_ADDR's port conflicts too.
  l = load_main("[MAPPER]\n127.0.0.1:1111 = 10.0.0.1:80\n");
  expect_one_error(l, kMain, 2, "INNER_PORT");

  // And the wildcard on a specific INNER_ADDR's port.
  l = load_main("[DEFAULT]\nINNER_ADDR = 127.0.0.1\n[MAPPER]\n1111 = 10.0.0.1:80\n");
  expect_one_error(l, kMain, 4, "INNER_PORT");
}

TEST(ConfigErrors, MissingOuterPortsFile) {
  Loaded l = load({{kMain, kSeedDefaults}});
  expect_one_error(l, kMain, 4, kPorts);
  EXPECT_NE(std::string::npos, l.errors[0].message.find("No such file or directory"));
  EXPECT_EQ((std::vector<std::string>{kMain, kPorts, kState}), l.reads);
}

TEST(ConfigErrors, MissingMainFile) {
  Loaded l = load({});
  expect_one_error(l, kMain, 0, "No such file or directory");
  EXPECT_EQ(std::string(kMain) + ": " + l.errors[0].message, l.errors[0].str());
  EXPECT_EQ((std::vector<std::string>{kMain}), l.reads);
}

TEST(ConfigErrors, LineWithoutEquals) {
  Loaded l = load_main("[DEFAULT]\nINNER_PORT 1111\n");
  expect_one_error(l, kMain, 2, "KEY = VALUE");
  l = load_main("[MAPPER]\n1234 = 10.0.0.1:80\n4444\n");
  expect_one_error(l, kMain, 3, "KEY = VALUE");
  l = load({{kMain, kSeedDefaults}, {kPorts, "1234 10.0.0.1:80\n"}});
  expect_one_error(l, kPorts, 1, "KEY = VALUE");
}

TEST(ConfigErrors, MalformedSectionHeader) {
  for (const char* line : {"[DEFAULT", "[MAPPER] junk", "[::1]22 = 10.0.0.1:80", "[::1]:22"}) {
    SCOPED_TRACE(line);
    Loaded l = load_main(std::string("[MAPPER]\n") + line + "\n");
    EXPECT_FALSE(l.ok);
    ASSERT_EQ(1u, l.errors.size()) << l.dump();
    EXPECT_EQ(2, l.errors[0].line);
  }
}

TEST(ConfigErrors, TooLongLine) {
  std::string comment = "# " + std::string(189, 'c');
  ASSERT_EQ(191u, comment.size());
  Loaded l = load_main("[DEFAULT]\n" + comment + "\nINNER_PORT = 2222\n");
  expect_one_error(l, kMain, 2, "line too long");

  std::string target = std::string(150, 'a') + ".example:80";
  Loaded m = load({{kMain, kSeedDefaults},
                   {kPorts, "1234 = 10.0.0.1:80\n4444 =                                 " + target + "\n"}});
  expect_one_error(m, kPorts, 2, "line too long");
}

TEST(ConfigErrors, KeyOutsideAnySectionInMainFile) {
  Loaded l = load_main("INNER_PORT = 2222\n[DEFAULT]\nINNER_ADDR = 127.0.0.1\n");
  expect_one_error(l, kMain, 1, "outside any section");
  l = load_main("# header\n1234 = 10.0.0.1:80\n[MAPPER]\n");
  expect_one_error(l, kMain, 2, "outside any section");
}

TEST(ConfigErrors, SyntaxErrorOnlyInihSees) {
  // ';' after whitespace inside the key starts a comment for inih, which
  // then finds no '=': reported as a syntax error at that line.
  Loaded l = load_main("[MAPPER]\n1234 = 10.0.0.1:80\n4444 ;x = 10.0.0.1:22\n");
  expect_one_error(l, kMain, 3, "syntax error");
}

TEST(ConfigErrors, AllErrorsInOneFileReported) {
  std::string main_text =
      "INNER_PORT = 1\n"                       // 1: outside any section
      "[DEFAULT]\n"                            // 2
      "INNER_PORT = 0\n"                       // 3: bad port
      "INNER_ADDR = localhost\n"               // 4: bad address
      "LOG_LEVEL = chatty\n"                   // 5: bad level
      "COLOR = blue\n"                         // 6: unknown key
      "this line has no equals sign\n"         // 7: no '='
      "[EXTRA]\n"                              // 8: unknown section
      "[MAPPER]\n"                             // 9
      "1234 = 192.168.10.5:80\n"               // 10 ok
      "1234 = 192.168.10.5:81\n"               // 11: duplicate of 10
      "99999 = 192.168.10.5:80\n"              // 12: bad public port
      "host.example:80 = 10.0.0.1:80\n"        // 13: hostname bind
      "4444 = fd00::5:22\n"                    // 14: unbracketed v6 target
      "5555 =\n"                               // 15: empty target
      "1111 = 10.0.0.1:1\n";                   // 16: INNER_PORT (default 1111)
  Loaded l = load_main(main_text);
  EXPECT_FALSE(l.ok);
  std::vector<int> lines;
  for (const auto& e : l.errors) {
    EXPECT_EQ(kMain, e.file);
    lines.push_back(e.line);
  }
  // Parse errors in file order, then the mapping cross-checks.
  EXPECT_EQ((std::vector<int>{1, 3, 4, 5, 6, 7, 8, 12, 13, 14, 15, 11, 16}), lines) << l.dump();
  EXPECT_EQ(13u, l.errors.size());
}

TEST(ConfigErrors, ErrorsFromBothFilesReported) {
  std::string main_text =
      "[DEFAULT]\n"                            // 1
      "OUTER_PORTS_FILE = port_mapper.cfg\n"   // 2
      "BOGUS = 1\n"                            // 3
      "[MAPPER]\n"                             // 4
      "1234 = 10.0.0.1:80\n";                  // 5
  std::string ports =
      "0 = 10.0.0.1:80\n"                      // 1
      "[MAPPER]\n"                             // 2
      "1234 = 10.0.0.2:80\n"                   // 3: duplicate of main:5
      "4444 = nope\n";                         // 4
  Loaded l = load({{kMain, main_text}, {kPorts, ports}});
  EXPECT_FALSE(l.ok);
  ASSERT_EQ(4u, l.errors.size()) << l.dump();
  EXPECT_EQ(std::string(kMain) + ":3", l.errors[0].file + ":" + std::to_string(l.errors[0].line));
  EXPECT_EQ(std::string(kPorts) + ":1", l.errors[1].file + ":" + std::to_string(l.errors[1].line));
  EXPECT_EQ(std::string(kPorts) + ":4", l.errors[2].file + ":" + std::to_string(l.errors[2].line));
  EXPECT_EQ(std::string(kPorts) + ":3", l.errors[3].file + ":" + std::to_string(l.errors[3].line));
  EXPECT_NE(std::string::npos, l.errors[3].message.find(std::string(kMain) + ":5"));
}

TEST(ConfigErrors, FailedLoadLeavesOutputUntouched) {
  ServerConfig sentinel;
  sentinel.path = "/old/path.cfg";
  sentinel.inner_port = 4321;
  sentinel.inner_addr = "10.9.8.7";
  sentinel.outer_ports_file = "/old/ports.cfg";
  sentinel.log_level = LogLevel::error;
  Mapping m;
  m.public_port = 80;
  m.target_host = "old.example";
  m.target_port = 8080;
  sentinel.mappings.push_back(m);

  auto check_untouched = [&](const ServerConfig& c) {
    EXPECT_EQ("/old/path.cfg", c.path);
    EXPECT_EQ(4321, c.inner_port);
    EXPECT_EQ("10.9.8.7", c.inner_addr);
    EXPECT_EQ("/old/ports.cfg", c.outer_ports_file);
    EXPECT_EQ(LogLevel::error, c.log_level);
    ASSERT_EQ(1u, c.mappings.size());
    EXPECT_EQ("old.example", c.mappings[0].target_host);
  };

  // Good values followed by one error: nothing of it may leak into out.
  std::map<std::string, std::string> broken[] = {
      {{kMain, "[DEFAULT]\nINNER_PORT = 2222\nINNER_ADDR = 127.0.0.1\nLOG_LEVEL = debug\n"
               "[MAPPER]\n1234 = 10.0.0.1:80\nBAD\n"}},
      {{kMain, kSeedDefaults}},                                   // ports file missing
      {{kMain, kSeedDefaults}, {kPorts, "1234 = 10.0.0.1:80\n1234 = 10.0.0.1:81\n"}},
      {},                                                         // main file missing
  };
  for (const auto& files : broken) {
    Files fs;
    fs.files = files;
    ServerConfig out = sentinel;
    std::vector<ConfigError> errors;
    EXPECT_FALSE(load_server_config(kMain, out, errors, fs.reader()));
    EXPECT_FALSE(errors.empty());
    check_untouched(out);
  }

  // And a successful load does replace it.
  Files fs;
  fs.files = {{kMain, std::string(kSeedDefaults) + "AUTH = none\n"}, {kPorts, kSeedMapper}};
  ServerConfig out = sentinel;
  std::vector<ConfigError> errors;
  ASSERT_TRUE(load_server_config(kMain, out, errors, fs.reader()));
  EXPECT_EQ(kMain, out.path);
  EXPECT_EQ(1111, out.inner_port);
  EXPECT_EQ(4u, out.mappings.size());
}

// ---------------------------------------------------------------------------
// Security keys (issue 3)

TEST(ConfigSecurity, KeyRequiredUnlessAuthNone) {
  Loaded l = load({{kMain, "[DEFAULT]\nINNER_PORT = 1111\n"}}, kMain, false);
  ASSERT_FALSE(l.ok);
  ASSERT_EQ(1u, l.errors.size()) << l.dump();
  EXPECT_EQ(0, l.errors[0].line);
  EXPECT_NE(std::string::npos, l.errors[0].message.find("AUTH = none")) << l.dump();
  Loaded none = load({{kMain, "[DEFAULT]\nAUTH = none\n"}}, kMain, false);
  ASSERT_TRUE(none.ok) << none.dump();
  EXPECT_TRUE(none.config.auth_none);
}

TEST(ConfigSecurity, KeyAndTlsFilesResolveBesideTheConfig) {
  Loaded l = load({{kMain,
                    "[DEFAULT]\nAUTH_KEY_FILE = secret.key\nTLS_CERT = /abs/server.crt\n"
                    "TLS_KEY = server.key\nTLS_CLIENT_CA = ca.crt\nUSER = tcp-forward\n"
                    "GROUP = tcp-forward\nHANDSHAKE_TIMEOUT = 3\nMAX_HANDSHAKES = 10\n"
                    "MAX_STREAMS_PER_CLIENT = 99\n[CLIENTS]\nbranch-1 = keys/b1.key\n"}},
                  kMain, false);
  ASSERT_TRUE(l.ok) << l.dump();
  const ServerConfig& c = l.config;
  EXPECT_FALSE(c.auth_none);
  EXPECT_EQ("/etc/tf/secret.key", c.auth_key_file.path);
  EXPECT_EQ(2, c.auth_key_file.line);
  EXPECT_EQ("/abs/server.crt", c.tls_cert.path);
  EXPECT_EQ("/etc/tf/server.key", c.tls_key.path);
  EXPECT_EQ("/etc/tf/ca.crt", c.tls_client_ca.path);
  EXPECT_EQ("tcp-forward", c.user);
  EXPECT_EQ("tcp-forward", c.group);
  EXPECT_EQ(3, c.handshake_timeout_sec);
  EXPECT_EQ(10, c.max_handshakes);
  EXPECT_EQ(99, c.max_streams_per_client);
  ASSERT_EQ(1u, c.clients.size());
  EXPECT_EQ("branch-1", c.clients[0].first);
  EXPECT_EQ("/etc/tf/keys/b1.key", c.clients[0].second.path);
  EXPECT_EQ(12, c.clients[0].second.line);
}

TEST(ConfigSecurity, BadSecurityValuesCiteTheirLines) {
  Loaded l = load({{kMain,
                    "[DEFAULT]\nAUTH = maybe\nHANDSHAKE_TIMEOUT = 0\nMAX_HANDSHAKES = x\n"
                    "USER = bad user\nTLS_CERT = a.crt\n[CLIENTS]\nbad name = k\nok = \n"}},
                  kMain, false);
  ASSERT_FALSE(l.ok);
  std::vector<int> lines;
  for (const auto& e : l.errors) lines.push_back(e.line);
  // AUTH, HANDSHAKE_TIMEOUT, MAX_HANDSHAKES, USER, client name, empty key file,
  // TLS_CERT without TLS_KEY (line 6) and the missing key (line 0).
  for (int want : {2, 3, 4, 5, 6, 8, 9, 0})
    EXPECT_NE(lines.end(), std::find(lines.begin(), lines.end(), want)) << want << "\n" << l.dump();
}

// GROUP alone would keep uid 0: a configuration error at GROUP's line.
TEST(ConfigSecurity, GroupWithoutUserIsRefused) {
  Loaded l = load_main("[DEFAULT]\nLOG_LEVEL = info\nGROUP = nogroup\n");
  expect_one_error(l, kMain, 3, "GROUP without USER would keep the daemon running as root");
  Loaded both = load_main("[DEFAULT]\nGROUP = nogroup\nUSER = nobody\n");
  EXPECT_TRUE(both.ok) << both.dump();
}

TEST(ConfigRules, AllowDenyAndLimitsPerMappingAndGlobal) {
  Loaded l = load({{kMain,
                    "[MAPPER]\n1234 = 10.0.0.1:22\n127.0.0.1:8080 = 10.0.0.2:80\n"
                    "[RULES]\nDENY = 192.0.2.1\n1234.allow = 127.0.0.1/32, 10.0.0.0/8\n"
                    "127.0.0.1:8080.MAX_CONNECTIONS = 5\nMAX_CONNECTIONS = 50\n"}});
  ASSERT_TRUE(l.ok) << l.dump();
  ASSERT_EQ(2u, l.config.mappings.size());
  const Mapping& a = l.config.mappings[0];
  const Mapping& b = l.config.mappings[1];
  EXPECT_EQ(2u, a.access.allow.size());
  EXPECT_EQ(1u, a.access.deny.size());
  EXPECT_TRUE(b.access.allow.empty());
  EXPECT_EQ(1u, b.access.deny.size());
  EXPECT_EQ(50, a.max_connections);
  EXPECT_EQ(5, b.max_connections);  // per mapping wins, whatever the order
}

TEST(ConfigRules, ProxyProtocolPerMappingAndGlobal) {
  Loaded l = load({{kMain,
                    "[MAPPER]\n1234 = 10.0.0.1:22\n127.0.0.1:8080 = 10.0.0.2:80\n"
                    "5353/udp = 10.0.0.3:53\n9000 = 10.0.0.4:9000\n"
                    "[RULES]\n127.0.0.1:8080.PROXY_PROTOCOL = v1\nPROXY_PROTOCOL = v2\n"
                    "9000.proxy_protocol = OFF\n"}});
  ASSERT_TRUE(l.ok) << l.dump();
  ASSERT_EQ(4u, l.config.mappings.size());
  EXPECT_EQ(proxy::Version::v2, l.config.mappings[0].proxy_protocol);
  EXPECT_EQ(proxy::Version::v1, l.config.mappings[1].proxy_protocol);  // per mapping wins
  EXPECT_EQ(proxy::Version::v2, l.config.mappings[2].proxy_protocol);  // UDP takes v2
  EXPECT_EQ(proxy::Version::off, l.config.mappings[3].proxy_protocol);  // per mapping, after
  Loaded v1 = load_main("[MAPPER]\n1234 = 10.0.0.1:22\n53/udp = 10.0.0.1:53\n"
                        "[RULES]\nPROXY_PROTOCOL = v1\n");
  ASSERT_TRUE(v1.ok) << v1.dump();
  EXPECT_EQ(proxy::Version::v1, v1.config.mappings[0].proxy_protocol);
  EXPECT_EQ(proxy::Version::off, v1.config.mappings[1].proxy_protocol);  // v1 has no UDP form
  Loaded none = load_main("[MAPPER]\n1234 = 10.0.0.1:22\n");
  ASSERT_TRUE(none.ok) << none.dump();
  EXPECT_EQ(proxy::Version::off, none.config.mappings[0].proxy_protocol);  // the default
}

TEST(ConfigRules, ProxyProtocolErrors) {
  expect_one_error(load_main("[MAPPER]\n1234 = 10.0.0.1:22\n[RULES]\n1234.PROXY_PROTOCOL = v3\n"),
                   kMain, 4, "PROXY_PROTOCOL: bad value: 'v3' (expected v1, v2 or off)");
  expect_one_error(load_main("[MAPPER]\n1234 = 10.0.0.1:22\n[RULES]\nPROXY_PROTOCOL = yes\n"),
                   kMain, 4, "PROXY_PROTOCOL: bad value: 'yes'");
  expect_one_error(load_main("[MAPPER]\n53/udp = 10.0.0.1:53\n[RULES]\n\n"
                             "53/udp.PROXY_PROTOCOL = v1\n"),
                   kMain, 5, "PROXY_PROTOCOL for 0.0.0.0:53/udp: v1 has no datagram form");
  expect_one_error(load_main("[MAPPER]\n1234 = 10.0.0.1:22\n[RULES]\n4321.PROXY_PROTOCOL = v2\n"),
                   kMain, 4, "which no mapping uses");
}

TEST(ConfigRules, ProxyProtocolChangeIsAChange) {
  Mapping a;
  Mapping b = a;
  EXPECT_TRUE(a.same_as(b));
  b.proxy_protocol = proxy::Version::v2;
  EXPECT_FALSE(a.same_as(b));
}

TEST(ConfigMode, HttpPerPublicKeyTcpByDefault) {
  Loaded l = load_main("[MAPPER]\n8080 = 10.0.0.2:80\n127.0.0.1:8081 = 10.0.0.2:81\n"
                       "8082 = 10.0.0.2:82\n5353/udp = 10.0.0.3:53\n"
                       "[MODE]\n8080 = http\n127.0.0.1:8081 = HTTP\n8082 = tcp\n");
  ASSERT_TRUE(l.ok) << l.dump();
  ASSERT_EQ(4u, l.config.mappings.size());
  EXPECT_TRUE(l.config.mappings[0].http);
  EXPECT_TRUE(l.config.mappings[1].http);
  EXPECT_FALSE(l.config.mappings[2].http);
  EXPECT_FALSE(l.config.mappings[3].http);
  Loaded none = load_main("[MAPPER]\n8080 = 10.0.0.2:80\n");
  ASSERT_TRUE(none.ok) << none.dump();
  EXPECT_FALSE(none.config.mappings[0].http);
}

TEST(ConfigMode, ErrorsCiteFileAndLine) {
  expect_one_error(load_main("[MAPPER]\n8080 = 10.0.0.2:80\n[MODE]\n8080 = https\n"), kMain, 4,
                   "mode for 8080: bad value: 'https' (expected tcp or http)");
  expect_one_error(load_main("[MAPPER]\n8080 = 10.0.0.2:80\n[MODE]\n\n9090 = http\n"), kMain, 5,
                   "mode for 9090, which no mapping uses");
  expect_one_error(load_main("[MAPPER]\n8080 = 10.0.0.2:80\n[MODE]\n80x = http\n"), kMain, 4,
                   "mode for bad public port '80x'");
  expect_one_error(load_main("[MAPPER]\n53/udp = 10.0.0.2:53\n[MODE]\n53/udp = http\n"), kMain, 4,
                   "http is for TCP mappings");
}

TEST(ConfigMode, ModeChangeIsAChange) {
  Mapping a;
  Mapping b = a;
  b.http = true;
  EXPECT_FALSE(a.same_as(b));
}

TEST(ConfigRules, ErrorsCiteTheirLines) {
  Loaded l = load({{kMain,
                    "[MAPPER]\n1234 = 10.0.0.1:22\n[RULES]\n9999.ALLOW = 10.0.0.0/8\n"
                    "1234.PERMIT = 1.2.3.4\n1234.DENY = 10.0.0.0/33\n1234.MAX_CONNECTIONS = -1\n"
                    "ALLOW = \n"}});
  ASSERT_FALSE(l.ok);
  std::vector<int> lines;
  for (const auto& e : l.errors) lines.push_back(e.line);
  for (int want : {4, 5, 6, 7, 8})
    EXPECT_NE(lines.end(), std::find(lines.begin(), lines.end(), want)) << want << "\n" << l.dump();
}

TEST(ConfigRules, RateAndSourceLimitsPerMappingWinOverGlobal) {
  Loaded l = load({{kMain,
                    "[MAPPER]\n1234 = 10.0.0.1:22\n4444 = 10.0.0.2:3389\n"
                    "[RULES]\n4444.RATE_LIMIT = 2M\nRATE_LIMIT = 10M\n"
                    "4444.MAX_CONNECTIONS_PER_SOURCE = 10\n"
                    "NEW_CONNECTIONS_PER_SOURCE = 30/60\n4444.new_connections_per_source = 5 / 10\n"}});
  ASSERT_TRUE(l.ok) << l.dump();
  const Mapping& a = l.config.mappings[0];
  const Mapping& b = l.config.mappings[1];
  EXPECT_EQ(10u << 20, a.rate_limit);
  EXPECT_EQ(2u << 20, b.rate_limit) << "per mapping wins, whatever the order";
  EXPECT_EQ(0, a.max_connections_per_source);
  EXPECT_EQ(10, b.max_connections_per_source);
  EXPECT_EQ(30, a.new_connections_per_source);
  EXPECT_EQ(60, a.new_connections_window_sec);
  EXPECT_EQ(5, b.new_connections_per_source);
  EXPECT_EQ(10, b.new_connections_window_sec);
  Mapping changed = b;
  changed.rate_limit = 1u << 20;
  EXPECT_FALSE(b.same_as(changed)) << "a reload that changes a limit changes the mapping";
  EXPECT_EQ(", rate limit 2M/s, 10 per source, 5 new per source in 10 s", b.limits_text());
  EXPECT_EQ(", rate limit 10M/s, 30 new per source in 60 s", a.limits_text());
  Mapping p = a;
  p.proxy_protocol = proxy::Version::v2;
  p.rate_limit = 1536;
  EXPECT_EQ(", rate limit 1536/s, 30 new per source in 60 s, PROXY v2", p.limits_text());
  p.http = true;
  EXPECT_EQ(", rate limit 1536/s, 30 new per source in 60 s, PROXY v2, http log", p.limits_text());
}

TEST(ConfigRules, BadLimitsCiteTheirLines) {
  Loaded l = load({{kMain,
                    "[MAPPER]\n1234 = 10.0.0.1:22\n[RULES]\n1234.RATE_LIMIT = fast\n"
                    "RATE_LIMIT = 100\nMAX_CONNECTIONS_PER_SOURCE = 0\n"
                    "NEW_CONNECTIONS_PER_SOURCE = 30\n1234.NEW_CONNECTIONS_PER_SOURCE = 30/0\n"}});
  ASSERT_FALSE(l.ok);
  ASSERT_EQ(5u, l.errors.size()) << l.dump();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(4 + i, l.errors[i].line) << l.dump();
  EXPECT_NE(std::string::npos, l.errors[0].message.find("RATE_LIMIT: bad value: 'fast'"));
  EXPECT_NE(std::string::npos, l.errors[3].message.find("N/SECONDS")) << l.dump();
}

TEST(ConfigClients, RateLimitPerClientName) {
  Loaded good = load({{kMain, "[DEFAULT]\nAUTH_KEY_FILE = k\n[CLIENTS]\nalice = a.key\n"
                              "alice.RATE_LIMIT = 512K\n[MAPPER]\n1 = h:1\n"},
                      {"/etc/tf/k", "x"}, {"/etc/tf/a.key", "x"}});
  ASSERT_TRUE(good.ok) << good.dump();
  EXPECT_EQ(512u << 10, good.config.client_rate_limits["alice"]);
  Loaded l = load({{kMain,
                    "[DEFAULT]\nAUTH_KEY_FILE = k\n[CLIENTS]\nalice = a.key\nalice.RATE_LIMIT = 512K\n"
                    "bob.RATE_LIMIT = 1M\nalice.rate_limit = 1M\n[MAPPER]\n1 = h:1\n"},
                   {"/etc/tf/k", "x"}});
  ASSERT_FALSE(l.ok);
  std::string all = l.dump();
  EXPECT_NE(std::string::npos, all.find(":6: bob.RATE_LIMIT: no client bob in [CLIENTS]")) << all;
  EXPECT_NE(std::string::npos, all.find(":7: alice.RATE_LIMIT is given twice")) << all;
}

// [CLIENT_PORTS] (forward-client --expose), EXPOSE_HOLD and EXPOSE_ADDR.
TEST(ConfigClientPorts, GrantsByNameAndTag) {
  Loaded l = load_main(
      "[DEFAULT]\nEXPOSE_HOLD = 2\nEXPOSE_ADDR = 127.0.0.1\n[CLIENTS]\nbranch-office = b.key\n"
      "[CLIENT_PORTS]\nbranch-office = 20000-20099, 5353/udp\nbranch-office.MAX_PORTS = 5\n"
      "tag:dev = 21000-21999\n[RULES]\n20001.MAX_CONNECTIONS = 3\n");
  ASSERT_TRUE(l.ok) << l.dump();
  EXPECT_EQ(2, l.config.expose_hold_sec);
  EXPECT_EQ("127.0.0.1", l.config.expose_addr);
  ASSERT_EQ(2u, l.config.client_ports.size());
  const PortGrant& g = l.config.client_ports[0];
  EXPECT_EQ("branch-office", g.key);
  EXPECT_EQ(5, g.max_ports);
  EXPECT_EQ(7, g.line);
  EXPECT_TRUE(g.covers(5353, true));
  EXPECT_EQ("tag:dev", l.config.client_ports[1].key);
  // A [RULES] line for a granted port applies to the exposed port.
  Mapping m;
  m.public_port = 20001;
  apply_all_config_rules(l.config, m);
  EXPECT_EQ(3, m.max_connections);
}

TEST(ConfigClientPorts, ErrorsAtFileLine) {
  expect_one_error(load_main("[CLIENT_PORTS]\nbob = 20000-20010\n"), kMain, 2,
                   "[CLIENT_PORTS] bob: no client bob in [CLIENTS]");
  expect_one_error(load_main("[CLIENT_PORTS]\ntag:dev = 80-90\n"), kMain, 2,
                   "ports below 1024 are granted only one by one");
  expect_one_error(load_main("[CLIENT_PORTS]\ntag:dev = 20000\ntag:dev = 20001\n"), kMain, 3,
                   "already granted at");
  expect_one_error(load_main("[CLIENT_PORTS]\ntag:dev.MAX_PORTS = 2\n"), kMain, 2,
                   "MAX_PORTS without a grant");
  expect_one_error(load_main("[CLIENT_PORTS]\ntag:dev = 20000\ntag:dev.MAX_PORTS = x\n"), kMain, 3,
                   "tag:dev.MAX_PORTS: bad value");
  expect_one_error(load_main("[CLIENT_PORTS]\nbad name = 20000\n"), kMain, 2,
                   "expected a [CLIENTS] name or tag:TAG");
  expect_one_error(load_main("[DEFAULT]\nEXPOSE_HOLD = -1\n"), kMain, 2, "EXPOSE_HOLD: bad value");
  expect_one_error(load_main("[DEFAULT]\nEXPOSE_ADDR = example.org\n"), kMain, 2,
                   "EXPOSE_ADDR: bad value");
}
