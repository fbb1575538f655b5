// Unit tests for the channel admission policy (src/channel_policy.{h,cc}).
#include "channel_policy.h"

#include <gtest/gtest.h>

namespace {

ChannelIdentity named(const std::string& n) { return ChannelIdentity{n, true}; }
ChannelIdentity shared(const std::string& n = "") { return ChannelIdentity{n, false}; }

TEST(TagGrants, NoTagsLinesKeepsTodaysBehaviour) {
  TagGrants g;
  std::string why;
  EXPECT_TRUE(g.may_serve(shared(), "default", why));
  EXPECT_TRUE(g.may_serve(shared(), "site-b", why));
  EXPECT_TRUE(g.may_serve(named("alice"), "default", why));
  EXPECT_FALSE(g.may_serve(named("alice"), "site-b", why));
  EXPECT_NE(std::string::npos, why.find("client alice may not serve tag site-b")) << why;
}

TEST(TagGrants, GrantedTagsAreReservedForTheirClients) {
  TagGrants g;
  g.grant("bob", {"site-b", "db"});
  std::string why;
  EXPECT_TRUE(g.may_serve(named("bob"), "site-b", why));
  EXPECT_TRUE(g.may_serve(named("bob"), "db", why));
  EXPECT_FALSE(g.may_serve(named("bob"), "default", why)) << "TAGS lists every tag bob serves";
  EXPECT_FALSE(g.may_serve(named("alice"), "site-b", why));
  EXPECT_EQ("client alice may not serve tag site-b", why.substr(0, 37));
  EXPECT_FALSE(g.may_serve(shared(), "site-b", why));
  EXPECT_NE(std::string::npos, why.find("reserved")) << why;
  // A shared-key client claiming bob's name is still a shared-key client.
  EXPECT_FALSE(g.may_serve(shared("bob"), "db", why));
  EXPECT_TRUE(g.may_serve(shared("bob"), "other", why));
}

TEST(TagGrants, SeveralClientsMayShareATag) {
  TagGrants g;
  g.grant("a", {"web"});
  g.grant("b", {"web"});
  std::string why;
  EXPECT_TRUE(g.may_serve(named("a"), "web", why));
  EXPECT_TRUE(g.may_serve(named("b"), "web", why));
  EXPECT_FALSE(g.may_serve(named("c"), "web", why));
}

TEST(TagGrants, ReservedDefaultLocksOutUngrantedClients) {
  TagGrants g;
  g.grant("main", {"default"});
  std::string why;
  EXPECT_TRUE(g.may_serve(named("main"), "default", why));
  EXPECT_FALSE(g.may_serve(named("other"), "default", why));
  EXPECT_NE(std::string::npos, why.find("reserve")) << why;
  EXPECT_FALSE(g.may_serve(shared(), "default", why));
}

TEST(ChannelCaps, PerClientAndPerSharedKey) {
  ChannelCaps caps;
  caps.per_client = 2;
  caps.per_shared_key = 3;
  std::string why;
  EXPECT_TRUE(within_channel_cap(named("a"), 0, caps, why));
  EXPECT_TRUE(within_channel_cap(named("a"), 1, caps, why));
  EXPECT_FALSE(within_channel_cap(named("a"), 2, caps, why));
  EXPECT_NE(std::string::npos, why.find("MAX_CHANNELS_PER_CLIENT 2")) << why;
  EXPECT_TRUE(within_channel_cap(shared(), 2, caps, why));
  EXPECT_FALSE(within_channel_cap(shared(), 3, caps, why));
  EXPECT_NE(std::string::npos, why.find("MAX_CHANNELS_PER_SHARED_KEY 3")) << why;
}

TEST(ChannelIdentity, Describe) {
  EXPECT_EQ("client alice", describe(named("alice"), false));
  EXPECT_EQ("a shared-key client", describe(shared(), false));
  EXPECT_EQ("shared-key client 'x'", describe(shared("x"), false));
  EXPECT_EQ("a client without a key", describe(shared(), true));
}

}  // namespace
