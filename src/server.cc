#include "server.h"

#include <unistd.h>

#include "address.h"
#include "log.h"
#include "net.h"
#include "stream.h"

ForwardServer::ForwardServer(event_base* base, ServerConfig config)
    : base_(base), config_(std::move(config)), reaper_(base) {}

ForwardServer::~ForwardServer() {
  stop();
  reaper_.reap();
}

bool ForwardServer::start(std::string& err) {
  std::string inner_name = format_host_port(config_.inner_addr, config_.inner_port);
  inner_ = std::make_unique<Listener>(base_, "INNER_PORT " + inner_name,
                                      [this](evutil_socket_t fd, const sockaddr* sa) {
                                        accept_client(fd, sa);
                                      });
  if (!inner_->bind(config_.inner_addr, config_.inner_port, err)) {
    err = "cannot listen for clients on " + inner_name + ": " + err;
    return false;
  }
  log_info("listening for clients on %s", inner_name.c_str());
  for (const Mapping& m : config_.mappings) {
    auto shared = std::make_shared<const Mapping>(m);
    auto listener = std::make_unique<Listener>(
        base_, "mapping " + m.public_name(),
        [this, shared](evutil_socket_t fd, const sockaddr* sa) { accept_public(shared, fd, sa); });
    if (!listener->bind(m.bind_host, m.public_port, err)) {
      err = "cannot listen on " + m.public_name() + " (" + m.file + ":" + std::to_string(m.line) +
            "): " + err;
      return false;
    }
    log_info("mapping %s -> %s listening", m.public_name().c_str(), m.target_name().c_str());
    ports_.push_back(PublicPort{shared, std::move(listener)});
  }
  if (config_.mappings.empty()) log_warnx("no mappings configured: nothing will be forwarded");
  return true;
}

void ForwardServer::stop() {
  ports_.clear();
  inner_.reset();
  while (!tunnels_.empty()) tunnels_.front()->close("server shutting down");
}

void ForwardServer::log_status() const {
  size_t up = 0, streams = 0;
  for (const auto& t : tunnels_) {
    if (t->up()) ++up;
    streams += t->stream_count();
  }
  log_notice("status: %zu mappings, %zu channels up (%zu connecting), %zu streams", ports_.size(),
             up, tunnels_.size() - up, streams);
}

void ForwardServer::accept_client(evutil_socket_t fd, const sockaddr* peer) {
  std::string name = format_sockaddr(peer);
  set_nodelay(fd);
  set_keepalive(fd);
  BufferEventPtr bev(bufferevent_socket_new(base_, fd, BEV_OPT_CLOSE_ON_FREE));
  if (!bev) {
    log_warnx("connection from %s: out of memory", name.c_str());
    close(fd);
    return;
  }
  log_debug("connection from %s on INNER_PORT", name.c_str());
  tunnels_.push_back(
      std::make_unique<Tunnel>(std::move(bev), frame::Role::server, name, *this, reaper_));
  tunnels_.back()->start();
}

Tunnel* ForwardServer::pick_tunnel() {
  for (auto it = tunnels_.rbegin(); it != tunnels_.rend(); ++it)
    if ((*it)->up()) return it->get();
  return nullptr;
}

void ForwardServer::accept_public(const std::shared_ptr<const Mapping>& m, evutil_socket_t fd,
                                  const sockaddr* peer) {
  std::string peer_text = format_sockaddr(peer);
  Tunnel* t = pick_tunnel();
  if (!t) {
    log_notice("mapping %s -> %s: no client connected, closing connection from %s",
               m->public_name().c_str(), m->target_name().c_str(), peer_text.c_str());
    close(fd);
    return;
  }
  set_nodelay(fd);
  BufferEventPtr bev(bufferevent_socket_new(base_, fd, BEV_OPT_CLOSE_ON_FREE));
  if (!bev) {
    log_warnx("mapping %s: out of memory, closing connection from %s", m->public_name().c_str(),
              peer_text.c_str());
    close(fd);
    return;
  }
  uint32_t id = t->allocate_id();
  std::string label = "mapping " + m->public_name() + " -> " + m->target_name() + ", peer " +
                      peer_text + ", client " + t->peer();
  Stream* s = t->add_stream(std::make_unique<Stream>(*t, id, std::move(bev), label));
  s->request_open(m->target_host, m->target_port);
}

void ForwardServer::tunnel_up(Tunnel& t) {
  log_notice("client %s: channel up (protocol %u)", t.peer().c_str(), frame::kVersion);
}

void ForwardServer::tunnel_closed(Tunnel& t) {
  for (auto it = tunnels_.begin(); it != tunnels_.end(); ++it)
    if (it->get() == &t) {
      reaper_.bury(std::move(*it));
      tunnels_.erase(it);
      return;
    }
}

void ForwardServer::open_requested(Tunnel& t, uint32_t, const frame::Open&) {
  // Unreachable: the tunnel refuses OPEN frames on the server side.
  t.close("OPEN sent to the server");
}
