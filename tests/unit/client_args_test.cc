// Unit tests for forward-client's command line (src/client_args.{h,cc}).
#include "client_args.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "argv.h"

namespace {

bool parse(Argv argv, ClientArgs& out, ArgsExit& exit) {
  return parse_client_args(argv.argc(), argv.argv(), out, exit);
}

// Parses "forward-client OPTION [VALUE] host 1" and expects it refused
// with exactly "forward-client: MESSAGE" on stderr.
void expect_refused(const std::vector<std::string>& option, const std::string& message) {
  std::vector<std::string> words{"forward-client"};
  words.insert(words.end(), option.begin(), option.end());
  words.push_back("host");
  words.push_back("1");
  ArgsExit exit = early_exit(parse_client_args, Argv(words));
  EXPECT_EQ(kExitUsage, exit.status) << option[0];
  EXPECT_EQ("", exit.out) << option[0];
  EXPECT_EQ("forward-client: " + message + "\n", exit.err) << option[0];
}

}  // namespace

TEST(ClientArgs, Defaults) {
  ClientArgs a;
  ArgsExit exit;
  ASSERT_TRUE(parse({"forward-client", "gw.example", "7000"}, a, exit)) << exit.err;
  const ClientOptions& o = a.options;
  ASSERT_EQ(1u, o.servers.size());
  EXPECT_EQ("gw.example", o.servers[0].host);
  EXPECT_EQ(7000, o.servers[0].port);
  EXPECT_EQ(1, o.retry_min_sec);
  EXPECT_EQ(30, o.retry_max_sec);
  EXPECT_TRUE(o.reconnect);
  EXPECT_EQ(10, o.connect_timeout_sec);
  EXPECT_EQ(10, o.heartbeat_sec);
  EXPECT_EQ("default", o.tag);
  EXPECT_FALSE(o.auth) << "start-up loads the key";
  EXPECT_FALSE(o.tls.enabled);
  EXPECT_TRUE(o.allow.empty());
  EXPECT_EQ(10000u, o.max_streams);
  EXPECT_EQ(4096u, o.max_udp_sessions);
  EXPECT_EQ(16u << 20, o.max_pending_bytes);
  EXPECT_EQ(LogLevel::info, a.log_level());
  EXPECT_EQ("", a.key_file);
  EXPECT_FALSE(a.no_auth);
  EXPECT_EQ("", a.name);
  EXPECT_EQ("", a.user);
  EXPECT_FALSE(a.no_console);
  EXPECT_FALSE(a.daemon.verbose || a.daemon.syslog || a.daemon.daemon);
  EXPECT_EQ("", a.daemon.pid_file);
}

TEST(ClientArgs, EachOption) {
  ClientArgs a;
  ArgsExit exit;
  ASSERT_TRUE(parse({"forward-client", "--key-file", "k.key", "--name", "edge-1", "--server-name",
                     "gw.internal", "--cert-key", "c.key", "--max-streams", "5",
                     "--max-udp-sessions", "6", "--max-pending-bytes", "1K", "--user", "nobody",
                     "--tag", "blue", "--retry-delay", "2", "--retry-max", "60", "--no-reconnect",
                     "--heartbeat", "0", "--connect-timeout", "3", "--no-console",
                     "--log-level", "warning",
                     "--daemon", "--pid-file", "c.pid", "[::1]", "65535"},
                    a, exit))
      << exit.err;
  const ClientOptions& o = a.options;
  EXPECT_EQ("k.key", a.key_file);
  EXPECT_EQ("edge-1", a.name);
  EXPECT_EQ("gw.internal", o.tls.server_name);
  EXPECT_EQ("c.key", o.tls.cert_key);
  EXPECT_FALSE(o.tls.enabled) << "--server-name and --cert-key alone do not imply --tls";
  EXPECT_EQ(5u, o.max_streams);
  EXPECT_EQ(6u, o.max_udp_sessions);
  EXPECT_EQ(1024u, o.max_pending_bytes);
  EXPECT_EQ("nobody", a.user);
  EXPECT_EQ("blue", o.tag);
  EXPECT_EQ(2, o.retry_min_sec);
  EXPECT_EQ(60, o.retry_max_sec);
  EXPECT_FALSE(o.reconnect);
  EXPECT_EQ(0, o.heartbeat_sec);
  EXPECT_EQ(3, o.connect_timeout_sec);
  EXPECT_EQ(LogLevel::warning, a.log_level());
  EXPECT_TRUE(a.no_console);
  EXPECT_TRUE(a.daemon.daemon);
  EXPECT_TRUE(a.daemon.syslog);
  EXPECT_EQ("c.pid", a.daemon.pid_file);
  ASSERT_EQ(1u, o.servers.size());
  EXPECT_EQ("::1", o.servers[0].host) << "brackets around an IPv6 address come off";
  EXPECT_EQ(65535, o.servers[0].port);
}

TEST(ClientArgs, OptionsThatImplyTls) {
  std::string fp = "SHA256:" + std::string(64, 'a');
  for (Argv argv : {Argv{"forward-client", "--tls", "h", "1"},
                    Argv{"forward-client", "--ca-file", "ca.pem", "h", "1"},
                    Argv{"forward-client", "--cert", "c.pem", "h", "1"},
                    Argv{"forward-client", "--fingerprint", fp, "h", "1"}}) {
    ClientArgs a;
    ArgsExit exit;
    ASSERT_TRUE(parse(argv, a, exit)) << exit.err;
    EXPECT_TRUE(a.options.tls.enabled);
  }
  ClientArgs a;
  ArgsExit exit;
  ASSERT_TRUE(parse({"forward-client", "--ca-file", "ca.pem", "--cert", "c.pem", "--fingerprint",
                     fp, "--no-auth", "h", "1"},
                    a, exit));
  EXPECT_EQ("ca.pem", a.options.tls.ca_file);
  EXPECT_EQ("c.pem", a.options.tls.cert);
  ASSERT_EQ(1u, a.options.tls.fingerprints.size());
  EXPECT_EQ(std::vector<uint8_t>(32, 0xaa), a.options.tls.fingerprints[0]);
  EXPECT_TRUE(a.no_auth);
}

TEST(ClientArgs, RepeatedAllowAddsRules) {
  ClientArgs a;
  ArgsExit exit;
  ASSERT_TRUE(parse({"forward-client", "--allow", "10.0.0.0/8", "--allow", "db.internal:5432", "h",
                     "1"},
                    a, exit));
  EXPECT_EQ("10.0.0.0/8, db.internal:5432", a.options.allow.str());
}

TEST(ClientArgs, RepeatedExposeKeepsOrder) {
  ClientArgs a;
  ArgsExit exit;
  ASSERT_TRUE(parse({"forward-client", "--expose", "8080", "--expose", "udp:5353=53", "h", "1"}, a,
                    exit));
  ASSERT_EQ(2u, a.options.expose.size());
  EXPECT_EQ("127.0.0.1:8080", a.options.expose[0].target_name());
  EXPECT_TRUE(a.options.expose[1].udp);
  EXPECT_EQ(5353, a.options.expose[1].public_port);
  expect_refused({"--expose", "udp:"},
                 "--expose: bad SPEC 'udp:': no target (expected [tcp:|udp:|http:][PUBLIC_PORT=]PORT or "
                 "HOST:PORT)");
}

TEST(ClientArgs, LastOfVerboseAndLogLevelWins) {
  ClientArgs a;
  ArgsExit exit;
  ASSERT_TRUE(parse({"forward-client", "-v", "--log-level", "notice", "h", "1"}, a, exit));
  EXPECT_EQ(LogLevel::notice, a.log_level());
  ClientArgs b;
  ASSERT_TRUE(parse({"forward-client", "--log-level", "notice", "--verbose", "h", "1"}, b, exit));
  EXPECT_EQ(LogLevel::debug, b.log_level());
}

TEST(ClientArgs, RetryMaxIsAtLeastRetryDelay) {
  ClientArgs a;
  ArgsExit exit;
  ASSERT_TRUE(parse({"forward-client", "--retry-delay", "100", "h", "1"}, a, exit));
  EXPECT_EQ(100, a.options.retry_min_sec);
  EXPECT_EQ(100, a.options.retry_max_sec);
}

TEST(ClientArgs, BadValues) {
  expect_refused({"--max-streams", "0"}, "--max-streams: bad value '0' (1-10000000)");
  expect_refused({"--max-streams", "10000001"}, "--max-streams: bad value '10000001' (1-10000000)");
  expect_refused({"--max-udp-sessions", "x"}, "--max-udp-sessions: bad value 'x' (1-10000000)");
  expect_refused({"--max-pending-bytes", "2T"},
                 "--max-pending-bytes: bad value '2T' (bytes, or with a K, M or G suffix: 16M)");
  expect_refused({"--retry-delay", "0"}, "--retry-delay: bad value '0' (1-3600 seconds)");
  expect_refused({"--retry-max", "3601"}, "--retry-max: bad value '3601' (1-3600 seconds)");
  expect_refused({"--heartbeat", "-1"}, "--heartbeat: bad value '-1' (0-3600 seconds)");
  expect_refused({"--connect-timeout", "1s"}, "--connect-timeout: bad value '1s' (1-3600 seconds)");
  expect_refused({"--log-level", "loud"}, "--log-level: bad value 'loud'");
  expect_refused({"--tag", ""}, "--tag: 1-64 printable characters, no spaces");
  expect_refused({"--tag", "a b"}, "--tag: 1-64 printable characters, no spaces");
  expect_refused({"--tag", std::string(65, 't')}, "--tag: 1-64 printable characters, no spaces");
  expect_refused({"--name", ""}, "--name: 1-64 printable characters, no spaces");
  expect_refused({"--name", std::string(65, 'n')}, "--name: 1-64 printable characters, no spaces");
  // The handshake's rule: a control byte is refused here, not by the server.
  expect_refused({"--tag", std::string("a\x01")}, "--tag: 1-64 printable characters, no spaces");
  expect_refused({"--name", std::string("caf\xc3\xa9")}, "--name: 1-64 printable characters, no spaces");
  expect_refused({"--fingerprint", "SHA256:12"},
                 "--fingerprint: expected SHA256: followed by 64 hex digits");
  expect_refused({"--allow", "bad target!"},
                 "--allow: bad target 'bad target!': not an IP address, network or host name");
}

TEST(ClientArgs, ServerHostAndPort) {
  for (Argv argv : {Argv{"forward-client"}, Argv{"forward-client", "host"},
                    Argv{"forward-client", "host", "1", "2"}}) {
    ArgsExit exit = early_exit(parse_client_args, argv);
    EXPECT_EQ(kExitUsage, exit.status);
    EXPECT_EQ(0u, exit.err.find("forward-client: expected SERVER_HOST SERVER_PORT (or --server "
                                "HOST:PORT)\n"
                                "usage: forward-client [options] SERVER_HOST SERVER_PORT "
                                "[SERVER_HOST SERVER_PORT ...]\n"))
        << exit.err;
  }
  for (const char* port : {"0", "65536", "http", ""}) {
    ArgsExit exit = early_exit(parse_client_args, {"forward-client", "host", port});
    EXPECT_EQ(kExitUsage, exit.status) << port;
    EXPECT_EQ(std::string("forward-client: bad SERVER_PORT '") + port + "' (1-65535)\n", exit.err);
  }
}

TEST(ClientArgs, NoAuthExcludesKeyFile) {
  ArgsExit exit =
      early_exit(parse_client_args, {"forward-client", "--no-auth", "--key-file", "k", "h", "1"});
  EXPECT_EQ(kExitUsage, exit.status);
  EXPECT_EQ("forward-client: --no-auth and --key-file exclude each other\n", exit.err);
}

TEST(ClientArgs, HelpText) {
  std::string u = help_text(parse_client_args, "forward-client");
  EXPECT_EQ(0u, u.find("usage: forward-client [options] SERVER_HOST SERVER_PORT [SERVER_HOST "
                       "SERVER_PORT ...]\n       forward-client [options] --server HOST:PORT "
                       "[--server HOST:PORT ...]\n"))
      << u;
  EXPECT_NE(std::string::npos,
            u.find("options:\n      --key-file PATH            shared key (hex or base64, >= 32 "
                   "bytes) proving who we are\n                                 (default "))
      << u;
  EXPECT_NE(std::string::npos,
            u.find("      --log-level LEVEL          debug, info, notice, warning or error "
                   "(default info)\n"
                   "  -v, --verbose                  log at debug level\n"
                   "      --syslog                   log to syslog (facility daemon) instead of "
                   "stderr\n"))
      << u;
  EXPECT_NE(std::string::npos, u.find("exit status: 0 ok, 1 runtime failure, 64 usage, 78 bad key"))
      << u;
}

TEST(ClientArgs, SeveralServers) {
  ClientArgs a;
  ArgsExit exit;
  ASSERT_TRUE(parse({"forward-client", "--server", "[::1]:7001", "a.example", "7000", "10.0.0.2",
                     "7000"},
                    a, exit))
      << exit.err;
  const std::vector<ServerAddress>& s = a.options.servers;
  ASSERT_EQ(3u, s.size());
  EXPECT_EQ("::1", s[0].host) << "--server first, then the operands, in order";
  EXPECT_EQ(7001, s[0].port);
  EXPECT_EQ("a.example", s[1].host);
  EXPECT_EQ(7000, s[1].port);
  EXPECT_EQ("10.0.0.2", s[2].host);

  ClientArgs only;
  ASSERT_TRUE(parse({"forward-client", "--server", "gw:1111"}, only, exit)) << exit.err;
  ASSERT_EQ(1u, only.options.servers.size());
  EXPECT_EQ("gw", only.options.servers[0].host);
  EXPECT_EQ(1111, only.options.servers[0].port);
}

TEST(ClientArgs, ServerListRefusals) {
  for (auto [argv, message] : std::vector<std::pair<Argv, std::string>>{
           {Argv{"forward-client"}, "expected SERVER_HOST SERVER_PORT (or --server HOST:PORT)"},
           {Argv{"forward-client", "a", "1", "b"},
            "expected SERVER_HOST SERVER_PORT (or --server HOST:PORT)"},
           {Argv{"forward-client", "a", "1", "b", "0"}, "bad SERVER_PORT '0' (1-65535)"},
           {Argv{"forward-client", "--server", "a:1", "a", "1"}, "server a:1 given twice"},
       }) {
    ArgsExit exit = early_exit(parse_client_args, argv);
    EXPECT_EQ(kExitUsage, exit.status) << message;
    EXPECT_NE(std::string::npos, exit.err.find("forward-client: " + message)) << exit.err;
  }
  ArgsExit exit = early_exit(parse_client_args, Argv{"forward-client", "--server", "7000"});
  EXPECT_EQ(kExitUsage, exit.status) << "--server needs a host";
}

TEST(ClientArgs, RepeatedFingerprintsPinEach) {
  std::string a(64, 'a'), b(64, 'b');
  ClientArgs args;
  ArgsExit exit;
  ASSERT_TRUE(parse({"forward-client", "--fingerprint", a, "--fingerprint", "SHA256:" + b, "h",
                     "1"},
                    args, exit))
      << exit.err;
  ASSERT_EQ(2u, args.options.tls.fingerprints.size());
  EXPECT_EQ(std::vector<uint8_t>(32, 0xaa), args.options.tls.fingerprints[0]);
  EXPECT_EQ(std::vector<uint8_t>(32, 0xbb), args.options.tls.fingerprints[1]);
}
