#include "client_args.h"

#include "address.h"
#include "expose_spec.h"
#include "frame.h"
#include "names.h"
#include "tls.h"

namespace {

constexpr const char* kHead =
    "usage: forward-client [options] SERVER_HOST SERVER_PORT [SERVER_HOST SERVER_PORT ...]\n"
    "       forward-client [options] --server HOST:PORT [--server HOST:PORT ...]\n"
    "\n"
    "Keeps one channel open to each forward-server at SERVER_HOST:SERVER_PORT\n"
    "(its INNER_PORT) and connects inner targets when a server asks. Each\n"
    "channel reconnects on its own; a server that is down delays no other.\n"
    "\n"
    "options:\n";
constexpr const char* kTail =
    "\n"
    "signals: TERM/INT stop (streams get up to 10 s to finish), USR1 (and HUP: there is\n"
    "no configuration to reload) logs the status and, while waiting to reconnect,\n"
    "retries at once.\n"
    "exit status: 0 ok, 1 runtime failure, 64 usage, 78 bad key or certificate.\n";

// --name and --tag: the checks the server makes of them (1-64 characters).
// --name and --tag: the rule the handshake and the server's config apply,
// so a bad value is refused here rather than by the server.
OptionSetter set_name(std::string& out) {
  return [&out](const char* arg, std::string& err) {
    out = arg;
    if (!valid_name(out)) {
      err = kNameRule;
      return false;
    }
    return true;
  };
}

// A setter that stores the argument and switches TLS on.
OptionSetter implies_tls(ClientOptions& o, std::string& out) {
  return [&o, &out](const char* arg, std::string&) {
    o.tls.enabled = true;
    out = arg;
    return true;
  };
}

// Who we are and how the channel is protected.
void add_auth_options(std::vector<Option>& t, ClientArgs& a) {
  ClientOptions& o = a.options;
  t.push_back({"key-file", 0, "PATH",
               "shared key (hex or base64, >= 32 bytes) proving who we are\n"
               "(default " SYSCONFDIR "/tcp-forward/client.key if it exists)",
               set_text(a.key_file)});
  t.push_back({"no-auth", 0, nullptr, "connect to a server with AUTH = none (no key)",
               set_flag(a.no_auth)});
  t.push_back({"name", 0, "NAME", "client name the server looks up in its [CLIENTS] keys",
               set_name(a.name)});
  t.push_back({"tls", 0, nullptr,
               "use TLS; the server certificate is verified against the\n"
               "system trust store and SERVER_HOST unless told otherwise",
               set_flag(o.tls.enabled)});
  t.push_back({"ca-file", 0, "PATH", "verify the server against this CA bundle (implies --tls)",
               implies_tls(o, o.tls.ca_file)});
  t.push_back({"fingerprint", 0, "SHA256:HEX",
               "accept only a server certificate with this SHA-256\n"
               "fingerprint, CA and name not checked (implies --tls);\n"
               "repeatable: one per server when each has its own",
               [&o](const char* arg, std::string& err) {
                 std::vector<uint8_t> fp;
                 if (!parse_fingerprint(arg, fp, err)) return false;
                 o.tls.fingerprints.push_back(std::move(fp));
                 o.tls.enabled = true;
                 return true;
               }});
  t.push_back({"server-name", 0, "NAME", "name to send (SNI) and verify instead of SERVER_HOST",
               set_text(o.tls.server_name)});
  t.push_back({"cert", 0, "PATH", "client certificate for mutual TLS (implies --tls)",
               implies_tls(o, o.tls.cert)});
  t.push_back({"cert-key", 0, "PATH", "its private key (default: the --cert file)",
               set_text(o.tls.cert_key)});
}

// What the server may ask of us.
void add_limit_options(std::vector<Option>& t, ClientOptions& o) {
  t.push_back({"allow", 0, "TARGET",
               "only connect targets matching TARGET (repeatable):\n"
               "10.0.0.0/8, 10.0.0.5:22, 10.0.0.0/24:8000-9000,\n"
               "[fd00::/64]:22, db.internal:5432, *.corp.example;\n"
               "without --allow the client trusts its server fully",
               [&o](const char* arg, std::string& err) { return o.allow.add(arg, err); }});
  t.push_back({"expose", 0, "SPEC",
               "ask each server for a public port to this target\n"
               "(repeatable): [tcp:|udp:|http:][PUBLIC_PORT=]TARGET,\n"
               "TARGET = PORT (127.0.0.1) or HOST:PORT; the server's\n"
               "[CLIENT_PORTS] decides; --allow does not apply to it",
               [&o](const char* arg, std::string& err) {
                 ExposeSpec spec;
                 if (!parse_expose_spec(arg, spec, err)) return false;
                 o.expose.push_back(std::move(spec));
                 return true;
               }});
  t.push_back({"max-streams", 0, "N",
               "refuse (resource_limit) the server's OPENs beyond N\n"
               "streams on the channel (default 10000)",
               set_count(o.max_streams)});
  t.push_back({"max-udp-sessions", 0, "N", "likewise for UDP sessions (default 4096)",
               set_count(o.max_udp_sessions)});
  t.push_back({"max-pending-bytes", 0, "SIZE",
               "early data held for targets still connecting, all\n"
               "streams together; a stream whose data would pass it\n"
               "is reset (default 16M; suffixes K, M, G)",
               [&o](const char* arg, std::string& err) {
                 if (parse_size(arg, o.max_pending_bytes)) return true;
                 err = bad_value(arg, "bytes, or with a K, M or G suffix: 16M");
                 return false;
               }});
}

// How the client runs: its servers, user, tag, reconnecting, timers, logging.
void add_run_options(std::vector<Option>& t, ClientArgs& a) {
  ClientOptions& o = a.options;
  t.push_back({"server", 0, "HOST:PORT",
               "a server to keep a channel to (repeatable; the same as\n"
               "SERVER_HOST SERVER_PORT operands; [V6]:PORT for IPv6)",
               [&o](const char* arg, std::string& err) {
                 HostPort hp;
                 if (!parse_host_port(arg, true, hp, err)) return false;
                 o.servers.push_back({hp.host, hp.port});
                 return true;
               }});
  t.push_back({"user", 0, "USER", "drop root privileges to USER after reading keys",
               set_text(a.user)});
  t.push_back({"tag", 0, "NAME", "serve the server's mappings of this tag (default 'default')",
               set_name(o.tag)});
  t.push_back({"retry-delay", 0, "SECONDS",
               "first wait before reconnecting (default 1); it doubles\n"
               "after each failed attempt, with jitter",
               set_seconds(o.retry_min_sec, 1)});
  t.push_back({"retry-max", 0, "SECONDS", "longest wait between attempts (default 30)",
               set_seconds(o.retry_max_sec, 1)});
  t.push_back({"no-reconnect", 0, nullptr,
               "exit (status 1) when the channel cannot be had or ends\n"
               "(with several servers: when the last one has)",
               [&o](const char*, std::string&) {
                 o.reconnect = false;
                 return true;
               }});
  t.push_back({"heartbeat", 0, "SECONDS",
               "ping the server this often; declare it dead after 3\n"
               "silent intervals (default 10, 0: off)",
               set_seconds(o.heartbeat_sec, 0)});
  t.push_back({"connect-timeout", 0, "SECONDS",
               "bound on connecting the server and targets (default 10)",
               set_seconds(o.connect_timeout_sec, 1)});
  t.push_back({"metrics-listen", 0, "ADDR:PORT",
               "serve Prometheus metrics (GET /metrics) and GET /ready\n"
               "on ADDR:PORT, e.g. 127.0.0.1:9713; loopback peers only",
               [&a](const char* arg, std::string& err) {
                 HostPort hp;
                 std::string why;
                 sockaddr_storage ss;
                 socklen_t len;
                 if (!parse_host_port(arg, true, hp, why) ||
                     !ip_literal_to_sockaddr(hp.host, hp.port, ss, len)) {
                   err = bad_value(arg, "ADDR:PORT with an IP address, e.g. 127.0.0.1:9713");
                   return false;
                 }
                 a.metrics_host = hp.host;
                 a.metrics_port = hp.port;
                 return true;
               }});
  t.push_back({"no-console", 0, nullptr,
               "no live console when stderr is a terminal: log\n"
               "lines, as without a terminal",
               set_flag(a.no_console)});
  t.push_back({"log-level", 0, "LEVEL", "debug, info, notice, warning or error (default info)",
               [&a](const char* arg, std::string& err) {
                 if (!parse_log_level(arg, a.level)) {
                   err = bad_value(arg, "");
                   return false;
                 }
                 a.daemon.verbose = false;  // the last of -v and --log-level wins
                 return true;
               }});
}

// SERVER_HOST SERVER_PORT pairs after the --server options; at least one
// server in all, none twice (a second channel to one server would replace
// the first: they share the client's session).
bool add_operand_servers(const OptionTable& table, const std::vector<std::string>& operands,
                         std::vector<ServerAddress>& servers, ArgsExit& exit) {
  if (operands.size() % 2 != 0 || (operands.empty() && servers.empty())) {
    exit = usage_error(table, "expected SERVER_HOST SERVER_PORT (or --server HOST:PORT)", true);
    return false;
  }
  for (size_t i = 0; i < operands.size(); i += 2) {
    ServerAddress a{operands[i], 0};
    if (a.host.size() > 2 && a.host.front() == '[' && a.host.back() == ']')
      a.host = a.host.substr(1, a.host.size() - 2);
    if (!parse_port(operands[i + 1], a.port)) {
      exit = usage_error(table, "bad SERVER_PORT '" + operands[i + 1] + "' (1-65535)", false);
      return false;
    }
    servers.push_back(a);
  }
  for (size_t i = 0; i < servers.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (servers[i] == servers[j]) {
        exit = usage_error(table,
                           "server " + format_host_port(servers[i].host, servers[i].port) +
                               " given twice",
                           false);
        return false;
      }
  return true;
}

OptionTable client_table(ClientArgs& a) {
  OptionTable table{"forward-client", kHead, kTail, 33, {}};
  add_auth_options(table.options, a);
  add_limit_options(table.options, a.options);
  add_run_options(table.options, a);
  add_daemon_options(table.options, a.daemon, false);
  return table;
}

}  // namespace

bool parse_client_args(int argc, char** argv, ClientArgs& out, ArgsExit& exit) {
  OptionTable table = client_table(out);
  std::vector<std::string> operands;
  if (!parse_options(table, argc, argv, operands, exit)) return false;
  ClientOptions& o = out.options;
  if (!add_operand_servers(table, operands, o.servers, exit)) return false;
  if (out.no_auth && !out.key_file.empty()) {
    exit = usage_error(table, "--no-auth and --key-file exclude each other", false);
    return false;
  }
  if (o.retry_max_sec < o.retry_min_sec) o.retry_max_sec = o.retry_min_sec;
  return true;
}
