// Unit tests for the metrics endpoint (src/metrics_http.*): a real evhttp
// server and an evhttp client in one event loop on 127.0.0.1.
#include "metrics_http.h"

#include <string>

#include <event2/buffer.h>
#include <event2/http.h>
#include <gtest/gtest.h>

#include "loopback.h"

namespace {

struct Reply {
  int code = 0;
  std::string body, type;
};

// GETs path from 127.0.0.1:port, running base until the answer (or 5 s).
Reply get(event_base* base, uint16_t port, const std::string& path) {
  Reply r;
  evhttp_connection* conn = evhttp_connection_base_new(base, nullptr, "127.0.0.1", port);
  auto done = [](evhttp_request* req, void* arg) {
    auto* out = static_cast<std::pair<Reply*, event_base*>*>(arg);
    if (req) {
      out->first->code = evhttp_request_get_response_code(req);
      evbuffer* b = evhttp_request_get_input_buffer(req);
      out->first->body.assign(reinterpret_cast<const char*>(evbuffer_pullup(b, -1)),
                              evbuffer_get_length(b));
      const char* t = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
      out->first->type = t ? t : "";
    }
    event_base_loopbreak(out->second);
  };
  std::pair<Reply*, event_base*> arg{&r, base};
  evhttp_request* req = evhttp_request_new(done, &arg);
  evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
  evhttp_make_request(conn, req, EVHTTP_REQ_GET, path.c_str());
  timeval tv{5, 0};
  event_base_loopexit(base, &tv);
  event_base_dispatch(base);
  evhttp_connection_free(conn);
  return r;
}

std::vector<Cidr> cidrs(const std::string& text) {
  std::vector<Cidr> out;
  std::vector<std::string> errors;
  parse_cidr_list(text, out, errors);
  return out;
}

}  // namespace

TEST(MetricsHttp, ServesMetricsReadyAnd404) {
  EventBasePtr base(event_base_new());
  bool ready = false;
  int renders = 0;
  MetricsHttp http(base.get(), [&renders] { ++renders; return std::string("x_total 1\n"); },
                   [&ready] { return ready; });
  uint16_t port = free_port();
  std::string err;
  ASSERT_TRUE(http.listen("127.0.0.1", port, err)) << err;
  Reply m = get(base.get(), port, "/metrics");
  EXPECT_EQ(200, m.code);
  EXPECT_EQ("x_total 1\n", m.body);
  EXPECT_EQ("text/plain; version=0.0.4; charset=utf-8", m.type);
  EXPECT_EQ(1, renders);
  EXPECT_EQ(503, get(base.get(), port, "/ready").code);
  ready = true;
  EXPECT_EQ(200, get(base.get(), port, "/ready").code);
  EXPECT_EQ(200, get(base.get(), port, "/metrics?x=1").code);
  EXPECT_EQ(404, get(base.get(), port, "/").code);
  EXPECT_EQ(404, get(base.get(), port, "/metrics/extra").code);
  EXPECT_EQ(2, renders);
}

TEST(MetricsHttp, ReadyPerMappingAsksTheCheckWithTheDecodedName) {
  EventBasePtr base(event_base_new());
  bool ready = true;
  std::string asked;
  MetricsHttp http(base.get(), [] { return std::string(); }, [&ready] { return ready; });
  http.set_mapping_check([&asked](const std::string& mapping, std::string& body) {
    asked = mapping;
    body = "about " + mapping;
    return mapping == "8080" ? 200 : mapping == "5353/udp" ? 503 : 404;
  });
  uint16_t port = free_port();
  std::string err;
  ASSERT_TRUE(http.listen("127.0.0.1", port, err)) << err;
  Reply ok = get(base.get(), port, "/ready?mapping=8080");
  EXPECT_EQ(200, ok.code);
  EXPECT_EQ("about 8080\n", ok.body);
  EXPECT_EQ(503, get(base.get(), port, "/ready?mapping=5353%2Fudp").code);
  EXPECT_EQ("5353/udp", asked) << "the query is decoded";
  EXPECT_EQ(404, get(base.get(), port, "/ready?mapping=9").code);
  EXPECT_EQ(200, get(base.get(), port, "/ready?other=1").code) << "no mapping: the plain answer";
  asked.clear();
  ready = false;  // draining: every /ready is 503, the check is not asked
  EXPECT_EQ(503, get(base.get(), port, "/ready?mapping=8080").code);
  EXPECT_EQ("", asked);
}

TEST(MetricsHttp, RefusesPeersOutsideTheAllowList) {
  EventBasePtr base(event_base_new());
  MetricsHttp http(base.get(), [] { return std::string("secret 1\n"); }, [] { return true; });
  uint16_t port = free_port();
  std::string err;
  ASSERT_TRUE(http.listen("127.0.0.1", port, err)) << err;
  http.set_allow(cidrs("10.0.0.0/8"));
  Reply r = get(base.get(), port, "/metrics");
  EXPECT_EQ(403, r.code);
  EXPECT_EQ(std::string::npos, r.body.find("secret"));
  http.set_allow({});  // back to the default: loopback
  EXPECT_EQ(200, get(base.get(), port, "/metrics").code);
}

TEST(MetricsHttp, BindFailureSaysWhere) {
  EventBasePtr base(event_base_new());
  MetricsHttp a(base.get(), [] { return std::string(); }, [] { return true; });
  MetricsHttp b(base.get(), [] { return std::string(); }, [] { return true; });
  uint16_t port = free_port();
  std::string err;
  ASSERT_TRUE(a.listen("127.0.0.1", port, err)) << err;
  EXPECT_FALSE(b.listen("127.0.0.1", port, err));
  EXPECT_NE(std::string::npos, err.find("127.0.0.1:" + std::to_string(port))) << err;
  EXPECT_FALSE(b.listening());
}
