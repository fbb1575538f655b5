// Unit tests for the HTTP/1.x observer of http mappings (src/http_log.*):
// byte-exact conversations, fed whole, byte by byte and split at every
// boundary, must give the same records.
#include "http_log.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

struct Expect {
  std::string method, path;
  int status;
  uint64_t bytes;
};

class Recorder {
 public:
  HttpObserver observer{[this](const HttpRecord& r) { records.push_back(r); }};
  std::vector<HttpRecord> records;
};

void check(const std::vector<HttpRecord>& got, const std::vector<Expect>& want,
           const std::string& where) {
  ASSERT_EQ(want.size(), got.size()) << where;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(want[i].method, got[i].method) << where << " record " << i;
    EXPECT_EQ(want[i].path, got[i].path) << where << " record " << i;
    EXPECT_EQ(want[i].status, got[i].status) << where << " record " << i;
    EXPECT_EQ(want[i].bytes, got[i].bytes) << where << " record " << i;
  }
}

// The requests (all of them, as a pipelining client sends them), then the
// responses, then optionally the server's EOF; each side split at every
// boundary (i, j), and byte by byte.
void check_all_splits(const std::string& req, const std::string& resp,
                      const std::vector<Expect>& want, bool eof = false) {
  for (size_t i = 0; i <= req.size(); ++i)
    for (size_t j = 0; j <= resp.size(); ++j) {
      Recorder r;
      r.observer.request_bytes(req.data(), i, 1);
      r.observer.request_bytes(req.data() + i, req.size() - i, 2);
      r.observer.response_bytes(resp.data(), j, 3);
      r.observer.response_bytes(resp.data() + j, resp.size() - j, 4);
      if (eof) r.observer.response_eof(5);
      EXPECT_FALSE(r.observer.degraded()) << r.observer.why();
      check(r.records, want, "split " + std::to_string(i) + "/" + std::to_string(j));
      if (::testing::Test::HasFailure()) return;
    }
  Recorder r;
  for (char c : req) r.observer.request_bytes(&c, 1, 1);
  for (char c : resp) r.observer.response_bytes(&c, 1, 2);
  if (eof) r.observer.response_eof(3);
  check(r.records, want, "byte by byte");
}

const std::string kGet = "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n";
const std::string k200 = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

TEST(HttpLog, OneRequestKeepAlive) {
  check_all_splits(kGet, k200, {{"GET", "/index.html", 200, k200.size()}});
}

TEST(HttpLog, PipelinedWithHeadAndChunked) {
  std::string req = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                    "HEAD /b HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /c?q=1 HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string r1 = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
  // HEAD: the length describes a body that is not sent.
  std::string r2 = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n";
  std::string r3 = "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "4\r\nnope\r\n3;x=y\r\n!!!\r\n0\r\nTrailer: t\r\n\r\n";
  check_all_splits(req, r1 + r2 + r3,
                   {{"GET", "/a", 200, r1.size()},
                    {"HEAD", "/b", 200, r2.size()},
                    {"GET", "/c?q=1", 404, r3.size()}});
}

TEST(HttpLog, ResponsesWithoutBody) {
  std::string req = "GET /x HTTP/1.1\r\nHost: x\r\n\r\nGET /y HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string r1 = "HTTP/1.1 204 No Content\r\n\r\n";
  std::string r2 = "HTTP/1.1 304 Not Modified\r\nETag: \"a\"\r\n\r\n";
  check_all_splits(req, r1 + r2, {{"GET", "/x", 204, r1.size()}, {"GET", "/y", 304, r2.size()}});
}

TEST(HttpLog, InterimResponseCountsForTheRequest) {
  std::string req = "POST /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                    "Content-Length: 4\r\n\r\nbody";
  std::string resp = "HTTP/1.1 100 Continue\r\n\r\n"
                     "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\nno";
  check_all_splits(req, resp, {{"POST", "/up", 500, resp.size()}});
}

TEST(HttpLog, ChunkedRequestBody) {
  std::string req = "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "3\r\nabc\r\n0\r\n\r\n"
                    "DELETE /d HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string resp = k200 + "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
  check_all_splits(req, resp, {{"POST", "/c", 200, k200.size()}, {"DELETE", "/d", 404, resp.size() - k200.size()}});
}

TEST(HttpLog, BodyUntilEof) {
  std::string req = "GET /old HTTP/1.0\r\n\r\n";
  std::string resp = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end";
  check_all_splits(req, resp, {{"GET", "/old", 200, resp.size()}}, true);
  // Without the EOF the response is not over.
  Recorder r;
  r.observer.request_bytes(req.data(), req.size(), 1);
  r.observer.response_bytes(resp.data(), resp.size(), 2);
  EXPECT_TRUE(r.records.empty());
}

TEST(HttpLog, LatencyIsFirstRequestByteToLastResponseByte) {
  Recorder r;
  r.observer.request_bytes(kGet.data(), 3, 1000);
  r.observer.request_bytes(kGet.data() + 3, kGet.size() - 3, 1500);
  r.observer.response_bytes(k200.data(), 10, 2000);
  EXPECT_TRUE(r.records.empty());
  r.observer.response_bytes(k200.data() + 10, k200.size() - 10, 3250);
  ASSERT_EQ(1u, r.records.size());
  EXPECT_EQ(2250u, r.records[0].latency_us);
}

TEST(HttpLog, LongPathIsCut) {
  std::string path = "/" + std::string(300, 'p');
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
  Recorder r;
  // Split inside the URL: on_url runs once per piece.
  r.observer.request_bytes(req.data(), 100, 1);
  r.observer.request_bytes(req.data() + 100, req.size() - 100, 1);
  r.observer.response_bytes(k200.data(), k200.size(), 2);
  ASSERT_EQ(1u, r.records.size());
  EXPECT_EQ(path.substr(0, HttpObserver::kMaxPath), r.records[0].path);
  EXPECT_TRUE(r.records[0].path_truncated);
}

TEST(HttpLog, GarbageRequestDegrades) {
  Recorder r;
  std::string junk("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
  r.observer.request_bytes(junk.data(), junk.size(), 1);
  EXPECT_TRUE(r.observer.degraded());
  EXPECT_FALSE(r.observer.why().empty());
  // Nothing more is parsed or reported, even valid HTTP.
  r.observer.request_bytes(kGet.data(), kGet.size(), 2);
  r.observer.response_bytes(k200.data(), k200.size(), 3);
  r.observer.finish(4);
  EXPECT_TRUE(r.records.empty());
}

TEST(HttpLog, GarbageResponseDegrades) {
  Recorder r;
  r.observer.request_bytes(kGet.data(), kGet.size(), 1);
  std::string junk = "SSH-2.0-OpenSSH_9.2\r\n";
  r.observer.response_bytes(junk.data(), junk.size(), 2);
  EXPECT_TRUE(r.observer.degraded());
  r.observer.finish(3);
  EXPECT_TRUE(r.records.empty());
}

TEST(HttpLog, ResponseWithoutRequestDegrades) {
  Recorder r;
  r.observer.response_bytes(k200.data(), k200.size(), 1);
  EXPECT_TRUE(r.observer.degraded());
  EXPECT_NE(std::string::npos, r.observer.why().find("without a request")) << r.observer.why();
  // A second response past the requests.
  Recorder r2;
  r2.observer.request_bytes(kGet.data(), kGet.size(), 1);
  std::string two = k200 + k200;
  r2.observer.response_bytes(two.data(), two.size(), 2);
  EXPECT_EQ(1u, r2.records.size());
  EXPECT_TRUE(r2.observer.degraded());
}

TEST(HttpLog, PendingRequestsAreBounded) {
  std::string many;
  for (size_t i = 0; i < HttpObserver::kMaxPending; ++i) many += kGet;
  Recorder r;
  r.observer.request_bytes(many.data(), many.size(), 1);
  EXPECT_TRUE(r.observer.active());
  r.observer.request_bytes(kGet.data(), kGet.size(), 1);
  EXPECT_TRUE(r.observer.degraded());
  EXPECT_NE(std::string::npos, r.observer.why().find("64")) << r.observer.why();
}

TEST(HttpLog, HugeHeaderDegrades) {
  std::string req = "GET / HTTP/1.1\r\nX: " + std::string(HTTP_MAX_HEADER_SIZE + 10, 'a') + "\r\n\r\n";
  Recorder r;
  for (size_t off = 0; off < req.size() && !r.observer.degraded(); off += 4096)
    r.observer.request_bytes(req.data() + off, std::min<size_t>(4096, req.size() - off), 1);
  EXPECT_TRUE(r.observer.degraded());
}

TEST(HttpLog, UpgradeEndsTheObservationQuietly) {
  std::string req = "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
                    "\x81\x05hello";
  std::string resp = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
  std::string frames = "\x81\x02hi";
  Recorder r;
  r.observer.request_bytes(req.data(), req.size(), 1);
  EXPECT_FALSE(r.observer.degraded());
  std::string all = resp + frames;
  r.observer.response_bytes(all.data(), all.size(), 2);
  ASSERT_EQ(1u, r.records.size());
  EXPECT_EQ(101, r.records[0].status);
  EXPECT_EQ(resp.size(), r.records[0].bytes);
  EXPECT_FALSE(r.observer.active());
  EXPECT_FALSE(r.observer.degraded());
  r.observer.response_bytes(frames.data(), frames.size(), 3);
  r.observer.finish(4);
  EXPECT_EQ(1u, r.records.size());
}

TEST(HttpLog, ConnectTunnelEndsTheObservation) {
  std::string req = "CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n\x16\x03\x01";
  std::string resp = "HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03";
  Recorder r;
  r.observer.request_bytes(req.data(), req.size(), 1);
  r.observer.response_bytes(resp.data(), resp.size(), 2);
  ASSERT_EQ(1u, r.records.size());
  EXPECT_EQ("CONNECT", r.records[0].method);
  EXPECT_EQ("example.org:443", r.records[0].path);
  EXPECT_EQ(200, r.records[0].status);
  EXPECT_FALSE(r.observer.degraded());
  EXPECT_FALSE(r.observer.active());
}

TEST(HttpLog, FinishReportsRequestsLeftWithoutResponse) {
  std::string req = kGet + "GET /second HTTP/1.1\r\nHost: x\r\n\r\nGET /par";
  Recorder r;
  r.observer.request_bytes(req.data(), req.size(), 1);
  // Part of the first response: its bytes count, its status does not.
  r.observer.response_bytes(k200.data(), 20, 2);
  r.observer.response_eof(3);
  r.observer.finish(4);
  check(r.records, {{"GET", "/index.html", 0, 20}, {"GET", "/second", 0, 0}}, "finish");
  // Reported once only.
  r.observer.finish(5);
  EXPECT_EQ(2u, r.records.size());
}

TEST(HttpLog, ConnectionCloseThenMoreBytesDegrades) {
  std::string resp = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx";
  Recorder r;
  r.observer.request_bytes(kGet.data(), kGet.size(), 1);
  r.observer.response_bytes(resp.data(), resp.size(), 2);
  ASSERT_EQ(1u, r.records.size());
  EXPECT_EQ(resp.size(), r.records[0].bytes);
  EXPECT_FALSE(r.observer.degraded());
  r.observer.response_bytes("junk", 4, 3);
  EXPECT_TRUE(r.observer.degraded());
}

}  // namespace
