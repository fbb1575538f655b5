// forward-ctl: asks a running forward-server over its control socket
// (CONTROL_SOCKET) and prints the answer. See forward-ctl(8).
#include <getopt.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctl_format.h"
#include "unique_fd.h"

namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 64;
constexpr int kExitUnavailable = 69;  // EX_UNAVAILABLE: the daemon is not reachable
constexpr int kTimeoutMs = 30000;     // a reload may take a moment; never forever

void usage(FILE* out) {
  fprintf(out,
          "usage: forward-ctl [-s SOCKET] [--json] COMMAND [ARGS]\n"
          "  -s, --socket PATH   the server's CONTROL_SOCKET (default /run/tcp-forward/control.sock)\n"
          "      --json          print the answer as one JSON document\n"
          "  -h, --help          show this help and exit\n"
          "      --version       show the version and exit\n"
          "commands:\n"
          "  status              version, uptime, last reload, counts\n"
          "  mappings            every mapping: target, tag, state, live streams\n"
          "  clients             every channel: client, peer, TLS, streams, bytes, round trip\n"
          "  streams [MAPPING]   live streams, of one mapping or all\n"
          "  reload              reload the configuration and print the outcome\n"
          "  add 'PUBLIC = TARGET' [--tag TAG]\n"
          "                      listen on a new mapping (a [MAPPER] line), kept in STATE_FILE\n"
          "  remove MAPPING      drop a mapping added with add; its live streams drain\n"
          "  kick CLIENT         close a client's channels (name, session or address)\n"
          "  disable MAPPING     stop accepting new connections or UDP peers; live ones go on\n"
          "  enable MAPPING      accept again\n"
          "  log-level LEVEL     debug|info|notice|warning|error until the next reload\n"
          "  drain               /ready answers 503 (load balancers stop sending); keep serving\n");
}

// Sends the request and reads one line back; false with err.
bool ask(const std::string& path, const std::string& request, std::string& answer, int& rc,
         std::string& err) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof sa.sun_path) {
    err = path + ": path too long";
    rc = kExitUsage;
    return false;
  }
  memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd || connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    err = "cannot reach the server at " + path + ": " + strerror(errno) +
          " (is forward-server running, with this CONTROL_SOCKET?)";
    rc = kExitUnavailable;
    return false;
  }
  std::string line = request + "\n";
  if (send(fd.get(), line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
    // Connected, then closed at once: the server refused this user.
    err = "the server closed the connection (" + std::string(strerror(errno)) +
          "): this user may not control it, see its log";
    rc = kExitFailed;
    return false;
  }
  char buf[65536];
  for (;;) {
    pollfd p{fd.get(), POLLIN, 0};
    int n = poll(&p, 1, kTimeoutMs);
    if (n == 0) {
      err = "no answer from " + path + " within 30 s";
      rc = kExitFailed;
      return false;
    }
    ssize_t got = n < 0 ? -1 : recv(fd.get(), buf, sizeof buf, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    answer.append(buf, static_cast<size_t>(got));
  }
  if (answer.empty()) {
    err = "the server closed the connection without an answer (this user may not control it: "
          "see its log)";
    rc = kExitFailed;
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string path = "/run/tcp-forward/control.sock";
  bool as_json = false;
  static const option opts[] = {{"socket", required_argument, nullptr, 's'},
                                {"json", no_argument, nullptr, 'j'},
                                {"help", no_argument, nullptr, 'h'},
                                {"version", no_argument, nullptr, 'V'},
                                {nullptr, 0, nullptr, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "+s:h", opts, nullptr)) != -1) {
    switch (c) {
      case 's': path = optarg; break;
      case 'j': as_json = true; break;
      case 'h': usage(stdout); return 0;
      case 'V': printf("forward-ctl %s\n", PACKAGE_VERSION); return 0;
      default: usage(stderr); return kExitUsage;
    }
  }
  if (optind >= argc) {
    usage(stderr);
    return kExitUsage;
  }
  std::string command = argv[optind];
  std::vector<std::string> args(argv + optind + 1, argv + argc);
  nlohmann::json request{{"command", command}, {"args", args}};
  std::string answer, err;
  int rc = 0;
  if (!ask(path, request.dump(), answer, rc, err)) {
    fprintf(stderr, "forward-ctl: %s\n", err.c_str());
    return rc;
  }
  nlohmann::json response = nlohmann::json::parse(answer, nullptr, false);
  if (response.is_discarded() || !response.is_object() || !response.contains("ok")) {
    fprintf(stderr, "forward-ctl: the server's answer is not understood: %.200s\n", answer.c_str());
    return kExitFailed;
  }
  if (!response["ok"].get<bool>()) {
    std::string why = response.value("error", std::string("refused"));
    if (as_json) printf("%s\n", response.dump(2).c_str());
    fprintf(stderr, "forward-ctl: %s\n", why.c_str());
    return kExitFailed;
  }
  const nlohmann::json& result = response["result"];
  if (as_json)
    printf("%s\n", result.dump(2).c_str());
  else
    fputs(format_result(command, result).c_str(), stdout);
  return 0;
}
