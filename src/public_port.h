// PublicPort: the public side of one mapping. It owns the listening socket
// (a TCP Listener or a UdpPort), the mapping new streams use, the count of
// its live streams (MAX_CONNECTIONS), the connections it holds until a
// client of its tag comes (CLIENT_WAIT) and, once a reload removes it, its
// drain.
//
// Like sniproxy's listener_ref_get/put, every live stream and held
// connection keeps a counted reference (a lease) to its port's Usage. A
// removed port with leases out stops listening and lives on in its server's
// list of draining ports until the last lease ends or DRAIN_TIMEOUT passes;
// then it resets what is left and asks the server to free it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config.h"
#include "ev.h"
#include "listener.h"
#include "rate_limit.h"
#include "reaper.h"
#include "source_limits.h"
#include "traffic_counters.h"
#include "udp_port.h"
#include "unique_fd.h"

class PublicPort;
class Tunnel;

// What a port needs from its server.
class PortHost {
 public:
  // Round robin among the live channels of a tag; nullptr if none.
  virtual Tunnel* pick_tunnel(const std::string& tag) = 0;
  // Room to hold one more connection for CLIENT_WAIT (in all ports).
  virtual bool may_hold() const = 0;
  // Ids of held connections grow across all ports: their arrival order.
  virtual uint64_t next_held_id() = 0;
  // Resets every stream whose owner tag is owner; how many there were.
  virtual size_t abort_streams(const void* owner, const std::string& why) = 0;
  // A draining port has nothing left: the server frees it.
  virtual void port_drained(PublicPort& port) = 0;
  // The [CLIENTS] NAME.RATE_LIMIT of t's client, shared by all its
  // streams; nullptr without one.
  virtual RateLimiterPtr client_rate_limit(const Tunnel& t) = 0;

 protected:
  ~PortHost() = default;
};

class PublicPort final : public Disposable {
 public:
  // config is the server's, read when used (CLIENT_WAIT, MAX_STREAMS_PER_CLIENT).
  PublicPort(event_base* base, const Mapping& m, const ServerConfig& config, PortHost& host);
  ~PublicPort() override;
  PublicPort(const PublicPort&) = delete;
  PublicPort& operator=(const PublicPort&) = delete;

  // Listens on the mapping's address; false with err (naming the mapping).
  bool bind(const UdpLimits& limits, std::string& err);
  const Mapping& mapping() const { return *mapping_; }
  // Reload: new streams use m (and its limits); live ones keep the mapping
  // and the limiter they started with.
  void set_mapping(const Mapping& m);
  // Hands the current mapping and UDP limits to the UDP socket, if any.
  void refresh_udp(const UdpLimits& limits);
  UdpPort* udp() const { return udp_.get(); }
  size_t live() const { return usage_->live; }
  uint64_t source_refusals() const { return sources_.refused(); }
  // Connections, bytes and refusals since the port was bound.
  const TrafficCounters& counters() const { return *counters_; }

  // Reload removed the mapping: stops listening. true if streams or held
  // connections are left to drain (for up to drain_timeout_sec, 0: no
  // limit); false if the port may go at once.
  bool drain(int drain_timeout_sec);

  // forward-ctl disable: stops accepting; live streams and held
  // connections stay. A UDP mapping keeps its socket for its live
  // sessions and drops datagrams from new peers. false with err if it is
  // disabled already.
  bool disable(std::string& err);
  // forward-ctl enable: listens again; false with err if the port cannot be bound.
  bool enable(std::string& err);
  bool disabled() const { return disabled_; }

  size_t held_count() const { return held_.size(); }
  // Appends (id, this) for each held connection waiting for a client of tag.
  void held_for(const std::string& tag, std::vector<std::pair<uint64_t, PublicPort*>>& out);
  // Gives held connection id to a stream on t.
  void release_held(uint64_t id, Tunnel& t);
  // Closes every held connection (shutdown).
  void drop_held() { held_.clear(); }

 private:
  // Shared by the port and the leases of its streams: the count outlives a
  // freed port, and the last lease to go wakes a draining one (on_idle).
  // Its address tags the port's streams (Stream::set_owner), and cannot be
  // reused while any such stream exists.
  struct Usage {
    size_t live = 0;
    event* on_idle = nullptr;  // the drain timer, while draining
  };
  // A public connection waiting (CLIENT_WAIT) for a client of its tag.
  struct Held {
    UniqueFd fd;
    std::shared_ptr<const Mapping> mapping;
    std::shared_ptr<void> lease;
    std::string peer;
    EventPtr timer;
    PublicPort* port = nullptr;
    uint64_t id = 0;  // key in held_
  };

  void accept(UniqueFd fd, const sockaddr* peer);
  // MAX_CONNECTIONS_PER_SOURCE, NEW_CONNECTIONS_PER_SOURCE: false (after a
  // log line at most once a minute per source) to refuse; else source_lease
  // holds the source's live count.
  bool admit_source(const Mapping& m, const sockaddr* peer, const std::string& peer_text,
                    std::shared_ptr<void>& source_lease);
  std::shared_ptr<void> lease();
  void open_stream(Tunnel& t, const std::shared_ptr<const Mapping>& m, UniqueFd fd,
                   const std::string& peer, std::shared_ptr<void> lease);
  // m's public name and "mapping PUBLIC -> TARGET", which start every
  // stream's label: built once per mapping, not per stream.
  void name_streams_of(const std::shared_ptr<const Mapping>& m);
  void hold(const std::shared_ptr<const Mapping>& m, UniqueFd fd, const std::string& peer,
            std::shared_ptr<void> lease);
  static void held_timeout_cb(evutil_socket_t, short, void* arg) noexcept;
  void held_timeout(uint64_t id);
  static void drain_cb(evutil_socket_t, short, void* arg) noexcept;
  void on_drain_event();

  event_base* base_;
  const ServerConfig& config_;
  PortHost& host_;
  std::shared_ptr<const Mapping> mapping_;
  std::shared_ptr<Usage> usage_ = std::make_shared<Usage>();
  // Shared with the port's streams, which add their bytes as they move.
  std::shared_ptr<TrafficCounters> counters_ = std::make_shared<TrafficCounters>();
  std::unique_ptr<Listener> listener_;  // TCP mappings
  std::unique_ptr<UdpPort> udp_;        // UDP mappings
  std::map<uint64_t, Held> held_;       // by id: a timeout finds its own entry
  EventPtr drain_timer_;                // removed with leases out: DRAIN_TIMEOUT or idle
  bool disabled_ = false;               // forward-ctl disable: not listening
  SourceLimiter sources_;               // per source address, across reloads
  RateLimiterPtr rate_;                 // RATE_LIMIT of the mapping, all its streams
  std::shared_ptr<const Mapping> named_;  // the mapping the two names below are of
  std::string public_name_, label_head_;
};
