// forward-server --init's decisions without I/O (src/init_config.{h,cc}):
// what a configuration sets, the lines it lacks, the edited text (every
// other byte kept), and the client command.
#include "init_config.h"

#include <gtest/gtest.h>

#include <string>

namespace {

// The shipped etc/forward_server.cfg's [DEFAULT] part, as it is.
const std::string kShipped =
    "# tcp-forward server configuration: see forward_server.cfg(5).\n"
    "\n"
    "[DEFAULT]\n"
    "; Port that forward-client dials.\n"
    "INNER_PORT = 1111\n"
    "INNER_ADDR = 0.0.0.0\n"
    "AUTH_KEY_FILE = secret.key\n"
    "; TLS for the channel (recommended across untrusted networks):\n"
    "; TLS_CERT = server.crt\n"
    "; TLS_KEY = server.key\n"
    "\n"
    "; [CLIENTS]\n"
    "; branch-office = branch-office.key\n";

InitPlan plan_of(const std::string& text) {
  InitPlan plan;
  std::string err;
  EXPECT_TRUE(plan_init(scan_config(text), plan, err)) << err;
  return plan;
}

std::string added(const InitPlan& plan) {
  std::string out;
  for (const ConfigLine& l : plan.add) out += l.key + "=" + l.value + ";";
  return out;
}

}  // namespace

TEST(InitConfig, ScanReadsDefaultKeysAsTheParserDoes) {
  ConfigScan s = scan_config(
      "inner_port = 2222 ; inline comment\n"  // outside any section: not [DEFAULT]
      "[ default ]   ; the header, any case, with a comment\n"
      "  tls_cert=my.crt\n"
      "# TLS_KEY = commented.key\n"
      "; AUTH_KEY_FILE = commented.key\n"
      "Inner_Port = 3333 ;the port\n"
      "AUTH_KEY_FILE = a;b.key\n"  // ';' without a space before it is part of the value
      "INNER_PORT = 4444\n"        // the last one wins, as in config.cc
      "[MAPPER]\n"
      "TLS_KEY = 127.0.0.1:80\n");
  EXPECT_TRUE(s.has_defaults);
  EXPECT_EQ("my.crt", s.defaults["TLS_CERT"]);
  EXPECT_EQ("4444", s.defaults["INNER_PORT"]);
  EXPECT_EQ("a;b.key", s.defaults["AUTH_KEY_FILE"]);
  EXPECT_EQ(0u, s.defaults.count("TLS_KEY"));
  EXPECT_FALSE(s.has_clients);
}

TEST(InitConfig, ScanSeesClientKeysButNotTheirTags) {
  EXPECT_FALSE(scan_config("[CLIENTS]\nbranch.TAGS = a b\n").has_clients);
  EXPECT_TRUE(scan_config("[clients]\nbranch = branch.key\n").has_clients);
  EXPECT_FALSE(scan_config("; [CLIENTS]\n; branch = branch.key\n").has_clients);
}

TEST(InitConfig, ShippedConfigGetsTheTlsLines) {
  InitPlan p = plan_of(kShipped);
  EXPECT_EQ("TLS_CERT=server.crt;TLS_KEY=server.key;", added(p));
  EXPECT_EQ("secret.key", p.key_file);
  EXPECT_EQ("server.crt", p.cert_file);
  EXPECT_EQ("server.key", p.cert_key_file);
  EXPECT_EQ(1111, p.inner_port);
  EXPECT_FALSE(p.auth_none);
  EXPECT_FALSE(p.clients_only);
  EXPECT_FALSE(p.mutual_tls);
}

TEST(InitConfig, NoConfigGetsEveryLine) {
  InitPlan p = plan_of("");
  EXPECT_EQ("TLS_CERT=server.crt;TLS_KEY=server.key;AUTH_KEY_FILE=secret.key;", added(p));
  EXPECT_EQ(1111, p.inner_port);
  EXPECT_EQ("", p.inner_addr);
}

TEST(InitConfig, KeysTheConfigSetsAreUsedNotAdded) {
  InitPlan p = plan_of("[DEFAULT]\nINNER_PORT = 2345\nTLS_CERT = /etc/pki/tf.pem\n"
                       "AUTH_KEY_FILE = keys/shared.key\nTLS_CLIENT_CA = ca.crt\n");
  EXPECT_EQ("TLS_KEY=server.key;", added(p));
  EXPECT_EQ("/etc/pki/tf.pem", p.cert_file);
  EXPECT_EQ("keys/shared.key", p.key_file);
  EXPECT_EQ(2345, p.inner_port);
  EXPECT_TRUE(p.mutual_tls);
  EXPECT_EQ(0u, plan_of("[DEFAULT]\nTLS_CERT = a\nTLS_KEY = b\nAUTH_KEY_FILE = c\n").add.size());
}

TEST(InitConfig, NoSharedKeyForAuthNoneOrClientKeysOnly) {
  InitPlan none = plan_of("[DEFAULT]\nAUTH = None\n");
  EXPECT_TRUE(none.auth_none);
  EXPECT_EQ("", none.key_file);
  EXPECT_EQ("TLS_CERT=server.crt;TLS_KEY=server.key;", added(none));

  InitPlan clients = plan_of("[DEFAULT]\nINNER_PORT = 1111\n[CLIENTS]\nbranch = branch.key\n");
  EXPECT_TRUE(clients.clients_only);
  EXPECT_EQ("", clients.key_file);
  EXPECT_EQ("TLS_CERT=server.crt;TLS_KEY=server.key;", added(clients));

  // With AUTH_KEY_FILE set as well, the shared key is the config's.
  InitPlan both = plan_of("[DEFAULT]\nAUTH_KEY_FILE = s.key\n[CLIENTS]\nbranch = branch.key\n");
  EXPECT_FALSE(both.clients_only);
  EXPECT_EQ("s.key", both.key_file);
}

TEST(InitConfig, RefusesABadInnerPortOrAnEmptyFileName) {
  for (const char* text : {"[DEFAULT]\nINNER_PORT = 70000\n", "[DEFAULT]\nINNER_PORT = x\n",
                           "[DEFAULT]\nTLS_CERT =\n", "[DEFAULT]\nAUTH_KEY_FILE = ;none\n"}) {
    InitPlan p;
    std::string err;
    EXPECT_FALSE(plan_init(scan_config(text), p, err)) << text;
    EXPECT_NE("", err) << text;
  }
}

TEST(InitConfig, AddsAfterTheLastDefaultKeyAndKeepsEveryOtherByte) {
  std::vector<ConfigLine> add = {{"TLS_CERT", "server.crt"}, {"TLS_KEY", "server.key"}};
  std::string out = add_default_lines(kShipped, add);
  std::string at = "AUTH_KEY_FILE = secret.key\n";
  size_t cut = kShipped.find(at) + at.size();
  EXPECT_EQ(kShipped.substr(0, cut) +
                "; added by forward-server --init:\n"
                "TLS_CERT = server.crt\n"
                "TLS_KEY = server.key\n" +
                kShipped.substr(cut),
            out);
  // What it added is what the scan now finds, and nothing is left to add.
  EXPECT_EQ(0u, plan_of(out).add.size());
  EXPECT_EQ(kShipped, add_default_lines(kShipped, {}));
}

TEST(InitConfig, AddsToTheFirstDefaultSectionOnly) {
  std::string text = "[MAPPER]\n1234 = h:1\n[DEFAULT]\nINNER_PORT = 1\n\n[MAPPER]\n5 = h:2\n"
                     "[DEFAULT]\nLOG_LEVEL = info\n";
  EXPECT_EQ("[MAPPER]\n1234 = h:1\n[DEFAULT]\nINNER_PORT = 1\n"
            "; added by forward-server --init:\nTLS_KEY = k\n"
            "\n[MAPPER]\n5 = h:2\n[DEFAULT]\nLOG_LEVEL = info\n",
            add_default_lines(text, {{"TLS_KEY", "k"}}));
  // A [DEFAULT] without keys: right after its header.
  EXPECT_EQ("[default]\n; added by forward-server --init:\nTLS_KEY = k\n; comment\n[MAPPER]\n",
            add_default_lines("[default]\n; comment\n[MAPPER]\n", {{"TLS_KEY", "k"}}));
}

TEST(InitConfig, AddsADefaultSectionFirstWhenThereIsNone) {
  EXPECT_EQ("[DEFAULT]\n; added by forward-server --init:\nTLS_KEY = k\n[MAPPER]\n1 = h:2\n",
            add_default_lines("[MAPPER]\n1 = h:2\n", {{"TLS_KEY", "k"}}));
  EXPECT_EQ("\xEF\xBB\xBF[DEFAULT]\n; added by forward-server --init:\nTLS_KEY = k\n[MAPPER]\n",
            add_default_lines("\xEF\xBB\xBF[MAPPER]\n", {{"TLS_KEY", "k"}}));
  EXPECT_EQ("[DEFAULT]\n; added by forward-server --init:\nTLS_KEY = k\n",
            add_default_lines("", {{"TLS_KEY", "k"}}));
}

TEST(InitConfig, KeepsCrlfAndAFileWithoutAFinalNewline) {
  EXPECT_EQ("[DEFAULT]\r\nINNER_PORT = 1\r\n; added by forward-server --init:\r\nTLS_KEY = k\r\n"
            "[MAPPER]\r\n",
            add_default_lines("[DEFAULT]\r\nINNER_PORT = 1\r\n[MAPPER]\r\n", {{"TLS_KEY", "k"}}));
  EXPECT_EQ("[DEFAULT]\nINNER_PORT = 1\n; added by forward-server --init:\nTLS_KEY = k\n",
            add_default_lines("[DEFAULT]\nINNER_PORT = 1", {{"TLS_KEY", "k"}}));
}

TEST(InitConfig, ClientHostIsInnerAddrWhenItNamesOneAddress) {
  EXPECT_EQ("gw.example", client_host("", "gw.example"));
  EXPECT_EQ("gw.example", client_host("0.0.0.0", "gw.example"));
  EXPECT_EQ("gw.example", client_host("::", "gw.example"));
  EXPECT_EQ("127.0.0.1", client_host("127.0.0.1", "gw.example"));
  EXPECT_EQ("2001:db8::1", client_host("2001:db8::1", "gw.example"));
}

TEST(InitConfig, ClientCommand) {
  const std::string fp = "SHA256:AB:CD";
  InitPlan p = plan_of("[DEFAULT]\nINNER_PORT = 4433\n");
  EXPECT_EQ("forward-client --key-file client.key --fingerprint SHA256:AB:CD gw.example 4433",
            client_command(p, "gw.example", fp));
  EXPECT_EQ("forward-client --no-auth --fingerprint SHA256:AB:CD h 1111",
            client_command(plan_of("[DEFAULT]\nAUTH = none\n"), "h", fp));
  EXPECT_EQ("forward-client --name NAME --key-file NAME.key --fingerprint SHA256:AB:CD h 1111",
            client_command(plan_of("[CLIENTS]\nb = b.key\n"), "h", fp));
  EXPECT_EQ("forward-client --key-file client.key --cert client.crt --cert-key client-cert.key "
            "--fingerprint SHA256:AB:CD h 1111",
            client_command(plan_of("[DEFAULT]\nTLS_CLIENT_CA = ca.crt\n"), "h", fp));
}
