// Which authenticated channels the server accepts: the tags a client may
// serve ([CLIENTS] NAME.TAGS) and the caps on channels per identity.
// Pure: no I/O, no libevent; the server asks it during the handshake and
// again at reload (a tag taken away closes the channels that serve it).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

// Who a channel authenticated as.
struct ChannelIdentity {
  std::string name;    // the client's --name ("" if none)
  bool named = false;  // proved its own [CLIENTS] key (else the shared key, or AUTH = none)
};

// Tags are bound to identities: a tag named in any NAME.TAGS is reserved
// for those clients. A named client serves the tags it was granted, or
// only "default" (if unreserved) when it has no TAGS line. Shared-key
// clients serve any unreserved tag, so a deployment with one shared key
// and no TAGS lines works as before.
class TagGrants {
 public:
  void grant(const std::string& client, const std::vector<std::string>& tags);
  // false with why ("client alice may not serve tag site-b") if not.
  bool may_serve(const ChannelIdentity& who, const std::string& tag, std::string& why) const;
  bool reserved(const std::string& tag) const { return reserved_.count(tag) > 0; }

 private:
  std::map<std::string, std::set<std::string>> grants_;
  std::set<std::string> reserved_;
};

struct ChannelCaps {
  int per_client = 4;       // MAX_CHANNELS_PER_CLIENT: per [CLIENTS] name
  int per_shared_key = 64;  // MAX_CHANNELS_PER_SHARED_KEY: shared-key (or AUTH = none) channels in all
};

// live: channels of the same identity already up, not counting one this
// channel replaces (same session). false with why when at the cap.
bool within_channel_cap(const ChannelIdentity& who, size_t live, const ChannelCaps& caps,
                        std::string& why);

// How a channel is described in log lines and refusals: "client alice",
// "a shared-key client", "a client without a key".
std::string describe(const ChannelIdentity& who, bool auth_none);
