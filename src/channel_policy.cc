#include "channel_policy.h"

void TagGrants::grant(const std::string& client, const std::vector<std::string>& tags) {
  auto& set = grants_[client];
  for (const auto& t : tags) {
    set.insert(t);
    reserved_.insert(t);
  }
}

bool TagGrants::may_serve(const ChannelIdentity& who, const std::string& tag,
                          std::string& why) const {
  if (who.named) {
    auto it = grants_.find(who.name);
    if (it != grants_.end()) {
      if (it->second.count(tag)) return true;
      why = "client " + who.name + " may not serve tag " + tag;
      return false;
    }
    if (tag == "default" && !reserved(tag)) return true;
    why = "client " + who.name + " may not serve tag " + tag +
          (tag == "default" ? " (another client's TAGS reserve it)"
                            : " (without " + who.name + ".TAGS in [CLIENTS] it serves only tag default)");
    return false;
  }
  if (!reserved(tag)) return true;
  why = "tag " + tag + " is reserved for named clients ([CLIENTS] NAME.TAGS); a shared-key client may not serve it";
  return false;
}

bool within_channel_cap(const ChannelIdentity& who, size_t live, const ChannelCaps& caps,
                        std::string& why) {
  size_t cap = static_cast<size_t>(who.named ? caps.per_client : caps.per_shared_key);
  if (live < cap) return true;
  why = who.named ? "client " + who.name + " already has " + std::to_string(live) +
                        " channels (MAX_CHANNELS_PER_CLIENT " + std::to_string(cap) + ")"
                  : "shared-key clients already have " + std::to_string(live) +
                        " channels (MAX_CHANNELS_PER_SHARED_KEY " + std::to_string(cap) + ")";
  return false;
}

std::string describe(const ChannelIdentity& who, bool auth_none) {
  if (who.named) return "client " + who.name;
  if (auth_none) return "a client without a key";
  return who.name.empty() ? "a shared-key client" : "shared-key client '" + who.name + "'";
}
