// ServerLink: forward-client's channel to one server. Dials it, hands the
// connection to a Tunnel, and redials with capped exponential back-off and
// jitter when the channel drops; a server that is down delays only its own
// link. The client (the TunnelHandler and ChannelOpener of every link's
// tunnel) decides what the channel's streams do.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "client_options.h"
#include "ev.h"
#include "reaper.h"
#include "tunnel.h"

class ServerLink {
 public:
  struct Owner {
    TunnelHandler& handler;
    ChannelOpener& opener;
    Reaper& reaper;
    evdns_base* dns;
    // --no-reconnect: this link's channel ended or could not be had.
    std::function<void(ServerLink&)> gave_up;
    // An attempt failed before there was a channel, and why.
    std::function<void(ServerLink&, const std::string&)> failed;
  };

  ServerLink(event_base* base, const ClientOptions& options, ServerAddress address,
             const SessionId& session, Owner owner);
  ~ServerLink();

  void start() { dial(); }
  // No more attempts; the tunnel, if any, stays until close().
  void stop();
  void close(const char* why);
  // SIGUSR1: logs this link's status; if waiting to reconnect, retries now.
  void poke();

  // From the client's TunnelHandler calls, for this link's tunnel.
  void tunnel_up();
  void tunnel_closed(Tunnel& t);

  bool owns(const Tunnel& t) const { return tunnel_.get() == &t; }
  Tunnel* tunnel() const { return tunnel_.get(); }
  bool up() const { return tunnel_ && tunnel_->up(); }
  // Still trying or connected (false once --no-reconnect gave up).
  bool active() const { return !gave_up_; }
  // "203.0.113.7:1111": the name the logs and the status use.
  const std::string& name() const { return name_; }
  const std::string& host() const { return address_.host; }
  // --expose is asked of this server (false once it proved too old for it).
  bool asks_expose() const { return !options_.expose.empty() && !features_refused_; }
  // The HELLO features (frame::kHelloFeatures) asked of this server: none
  // once it proved too old for them (it closed after our HELLO).
  uint8_t asked_features() const;
  std::string summary() const;
  uint64_t attempts() const { return attempts_; }  // connection attempts so far

 private:
  static void connect_event_cb(bufferevent*, short what, void* arg) noexcept;
  static void retry_cb(evutil_socket_t, short, void* arg) noexcept;
  void dial();
  BufferEventPtr new_connection();
  void on_connect_event(short what);
  std::string connect_error(short what);
  void connection_lost();
  void schedule_retry();

  event_base* base_;
  const ClientOptions& options_;
  ServerAddress address_;
  std::string name_;
  const SessionId& session_;
  Owner owner_;
  EventPtr retry_timer_;
  BufferEventPtr connecting_;
  std::unique_ptr<Tunnel> tunnel_;
  int failures_ = 0;  // consecutive attempts without a channel
  uint64_t attempts_ = 0;
  bool stopped_ = false;
  bool gave_up_ = false;
  // The server closed the connection right after a HELLO with the EXPOSE
  // flag (servers before 0.4.0 refuse unknown flags): redial without it.
  bool features_refused_ = false;
};
