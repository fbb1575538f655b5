#include "server.h"

#include <unistd.h>

#include <event2/bufferevent_ssl.h>

#include "address.h"
#include "log.h"
#include "net.h"
#include "stream.h"

ForwardServer::ForwardServer(event_base* base, ServerConfig config, ServerSecrets secrets)
    : base_(base), config_(std::move(config)), secrets_(std::move(secrets)), reaper_(base) {}

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
  log_info("listening for clients on %s (%s, %s)", inner_name.c_str(),
           secrets_.tls ? (config_.tls_client_ca.empty() ? "TLS" : "mutual TLS") : "plain TCP",
           config_.auth_none ? "NO AUTHENTICATION" : "key authentication");
  if (config_.auth_none)
    log_warnx("AUTH = none: anyone who can reach %s can open connections to every target",
              inner_name.c_str());
  for (const Mapping& m : config_.mappings) {
    auto shared = std::make_shared<const Mapping>(m);
    auto live = std::make_shared<size_t>(0);
    auto listener = std::make_unique<Listener>(
        base_, "mapping " + m.public_name(),
        [this, shared, live](evutil_socket_t fd, const sockaddr* sa) {
          accept_public(shared, live, fd, sa);
        });
    if (!listener->bind(m.bind_host, m.public_port, err)) {
      err = "cannot listen on " + m.public_name() + " (" + m.file + ":" + std::to_string(m.line) +
            "): " + err;
      return false;
    }
    log_info("mapping %s -> %s listening%s%s%s", m.public_name().c_str(), m.target_name().c_str(),
             m.access.empty() ? "" : (", " + m.access.str()).c_str(),
             m.max_connections ? ", max connections " : "",
             m.max_connections ? std::to_string(m.max_connections).c_str() : "");
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
  limit_pending_handshakes();
  BufferEventPtr bev;
  if (secrets_.tls) {
    SSL* ssl = SSL_new(secrets_.tls.get());
    // bufferevent_openssl takes the SSL even when it fails (CLOSE_ON_FREE).
    if (ssl)
      bev.reset(bufferevent_openssl_socket_new(base_, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                               BEV_OPT_CLOSE_ON_FREE));
    if (bev) bufferevent_openssl_set_allow_dirty_shutdown(bev.get(), 1);
  } else {
    bev.reset(bufferevent_socket_new(base_, fd, BEV_OPT_CLOSE_ON_FREE));
  }
  if (!bev) {
    log_warnx("connection from %s: out of memory", name.c_str());
    close(fd);
    return;
  }
  log_debug("connection from %s on INNER_PORT", name.c_str());
  TunnelLimits limits;
  limits.handshake_timeout_sec = config_.handshake_timeout_sec;
  tunnels_.push_back(std::make_unique<Tunnel>(std::move(bev), secrets_.tls != nullptr,
                                              frame::Role::server, name, *this, reaper_,
                                              secrets_.auth, limits));
  tunnels_.back()->start();
}

void ForwardServer::limit_pending_handshakes() {
  size_t pending = 0;
  for (const auto& t : tunnels_)
    if (!t->up()) ++pending;
  if (pending < static_cast<size_t>(config_.max_handshakes)) return;
  for (const auto& t : tunnels_)
    if (!t->up()) {
      t->close("dropped: MAX_HANDSHAKES (" + std::to_string(config_.max_handshakes) +
               ") connections are still in the handshake");
      return;
    }
}

Tunnel* ForwardServer::pick_tunnel() {
  for (auto it = tunnels_.rbegin(); it != tunnels_.rend(); ++it)
    if ((*it)->up()) return it->get();
  return nullptr;
}

void ForwardServer::accept_public(const std::shared_ptr<const Mapping>& m, const Counter& live,
                                  evutil_socket_t fd, const sockaddr* peer) {
  std::string peer_text = format_sockaddr(peer);
  if (!m->access.permits(peer)) {
    log_notice("mapping %s -> %s: connection from %s denied by [RULES]", m->public_name().c_str(),
               m->target_name().c_str(), peer_text.c_str());
    close(fd);
    return;
  }
  if (m->max_connections && *live >= static_cast<size_t>(m->max_connections)) {
    log_notice("mapping %s -> %s: MAX_CONNECTIONS (%d) reached, closing connection from %s",
               m->public_name().c_str(), m->target_name().c_str(), m->max_connections,
               peer_text.c_str());
    close(fd);
    return;
  }
  Tunnel* t = pick_tunnel();
  if (!t) {
    log_notice("mapping %s -> %s: no client connected, closing connection from %s",
               m->public_name().c_str(), m->target_name().c_str(), peer_text.c_str());
    close(fd);
    return;
  }
  if (t->stream_count() >= static_cast<size_t>(config_.max_streams_per_client)) {
    log_warnx("mapping %s -> %s: client %s already has MAX_STREAMS_PER_CLIENT (%d) streams, "
              "closing connection from %s",
              m->public_name().c_str(), m->target_name().c_str(), t->peer().c_str(),
              config_.max_streams_per_client, peer_text.c_str());
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
  ++*live;
  s->set_lease(std::shared_ptr<void>(nullptr, [live](void*) { --*live; }));
  s->request_open(m->target_host, m->target_port);
}

void ForwardServer::tunnel_up(Tunnel& t) {
  log_notice("client %s: channel up (protocol %u%s%s%s)", t.peer().c_str(), frame::kVersion,
             secrets_.tls ? ", TLS" : "", config_.auth_none ? "" : ", authenticated",
             t.client_name().empty() ? "" : (" as " + t.client_name()).c_str());
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
