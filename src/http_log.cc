#include "http_log.h"

#include <algorithm>
#include <cstdio>

#include "address.h"

std::string format_request(const std::string& method, const std::string& path, bool truncated,
                           int status, uint64_t bytes, uint64_t latency_us) {
  std::string s = "\"" + printable(method, 32) + " ";
  for (char c : printable(path, HttpObserver::kMaxPath * 4)) {
    if (c == '"')
      s += "%22";
    else
      s += c;
  }
  if (truncated) s += "...";
  char tail[96];
  snprintf(tail, sizeof tail, "\" %s %llu bytes %.1f ms",
           status ? std::to_string(status).c_str() : "-", static_cast<unsigned long long>(bytes),
           static_cast<double>(latency_us) / 1000.0);
  return s + tail;
}

HttpObserver::HttpObserver(Sink sink) : sink_(std::move(sink)) {
  http_parser_init(&req_, HTTP_REQUEST);
  http_parser_init(&resp_, HTTP_RESPONSE);
  req_.data = this;
  resp_.data = this;
}

int HttpObserver::on_req_begin(http_parser* p) {
  auto* o = static_cast<HttpObserver*>(p->data);
  if (o->pending_.size() >= kMaxPending) {
    o->cb_error_ = "more than " + std::to_string(kMaxPending) + " requests wait for responses";
    return 1;
  }
  Pending r;
  r.start_us = o->now_us_;
  o->pending_.push_back(std::move(r));
  return 0;
}

int HttpObserver::on_req_url(http_parser* p, const char* at, size_t n) {
  auto* o = static_cast<HttpObserver*>(p->data);
  HttpRecord& r = o->pending_.back().record;
  size_t room = kMaxPath - std::min(kMaxPath, r.path.size());
  r.path.append(at, std::min(room, n));
  if (n > room) r.path_truncated = true;
  return 0;
}

int HttpObserver::on_req_headers(http_parser* p) {
  auto* o = static_cast<HttpObserver*>(p->data);
  Pending& r = o->pending_.back();
  r.record.method = http_method_str(static_cast<http_method>(p->method));
  r.headers_done = true;
  return 0;
}

int HttpObserver::on_resp_begin(http_parser* p) {
  auto* o = static_cast<HttpObserver*>(p->data);
  if (o->pending_.empty()) {
    o->cb_error_ = "a response without a request";
    return 1;
  }
  return 0;
}

// Returning 1 tells http_parser the response has no body (HEAD).
int HttpObserver::on_resp_headers(http_parser* p) {
  auto* o = static_cast<HttpObserver*>(p->data);
  Pending& front = o->pending_.front();
  front.record.status = p->status_code;
  if (!front.headers_done) return 0;
  if (front.record.method == "HEAD") return 1;
  // A CONNECT's 2xx starts a tunnel, not a body.
  return front.record.method == "CONNECT" && p->status_code / 100 == 2 ? 1 : 0;
}

// Pauses the parser at the end of each response, so that the caller
// knows how many bytes it took (http_parser_execute's return).
int HttpObserver::on_resp_complete(http_parser* p) {
  auto* o = static_cast<HttpObserver*>(p->data);
  unsigned s = p->status_code;
  // An interim response (100 Continue): the final one is still to come.
  o->resp_done_ = !(s >= 100 && s < 200 && s != 101);
  http_parser_pause(p, 1);
  return 0;
}

// The callbacks find the observer in http_parser's data.
const http_parser_settings& HttpObserver::response_settings() {
  static const http_parser_settings settings = [] {
    http_parser_settings s;
    http_parser_settings_init(&s);
    s.on_message_begin = on_resp_begin;
    s.on_headers_complete = on_resp_headers;
    s.on_message_complete = on_resp_complete;
    return s;
  }();
  return settings;
}

void HttpObserver::degrade(const std::string& why) {
  state_ = State::degraded;
  why_ = why;
  pending_.clear();
}

void HttpObserver::complete_front(uint64_t now_us) {
  Pending done = std::move(pending_.front());
  pending_.pop_front();
  done.record.bytes = resp_bytes_;
  done.record.latency_us = now_us > done.start_us ? now_us - done.start_us : 0;
  resp_bytes_ = 0;
  sink_(done.record);
}

void HttpObserver::request_bytes(const char* p, size_t n, uint64_t now_us) {
  if (state_ != State::active || req_upgraded_ || n == 0) return;
  static const http_parser_settings settings = [] {
    http_parser_settings s;
    http_parser_settings_init(&s);
    s.on_message_begin = on_req_begin;
    s.on_url = on_req_url;
    s.on_headers_complete = on_req_headers;
    return s;
  }();
  now_us_ = now_us;
  size_t used = http_parser_execute(&req_, &settings, p, n);
  http_errno e = HTTP_PARSER_ERRNO(&req_);
  if (e != HPE_OK) {
    degrade(std::string("request: ") +
            (cb_error_.empty() ? http_errno_description(e) : cb_error_.c_str()));
    return;
  }
  // The rest is another protocol: the response to it decides, and the
  // observation ends there.
  if (req_.upgrade) {
    req_upgraded_ = true;
    if (!pending_.empty()) pending_.back().upgrade = true;
  } else if (used != n) {
    degrade("request: parser stopped early");
  }
}

void HttpObserver::response_bytes(const char* p, size_t n, uint64_t now_us) {
  if (state_ != State::active || n == 0) return;
  now_us_ = now_us;
  while (n > 0) {
    size_t used = http_parser_execute(&resp_, &response_settings(), p, n);
    resp_bytes_ += used;
    p += used;
    n -= used;
    http_errno e = HTTP_PARSER_ERRNO(&resp_);
    if (e == HPE_PAUSED) {
      http_parser_pause(&resp_, 0);
      if (!resp_done_) continue;  // interim: its bytes count for the request
      resp_done_ = false;
      bool upgraded = resp_.upgrade || pending_.front().upgrade;
      complete_front(now_us);
      if (upgraded) {
        state_ = State::upgraded;
        pending_.clear();
        return;
      }
      continue;
    }
    if (e != HPE_OK) {
      degrade(std::string("response: ") +
              (cb_error_.empty() ? http_errno_description(e) : cb_error_.c_str()));
      return;
    }
    if (n > 0) {  // http_parser stops early only on upgrade, which pauses first
      degrade("response: parser stopped early");
      return;
    }
  }
}

void HttpObserver::response_eof(uint64_t now_us) {
  if (state_ != State::active) return;
  http_parser_execute(&resp_, &response_settings(), nullptr, 0);
  http_errno e = HTTP_PARSER_ERRNO(&resp_);
  if (e == HPE_PAUSED) {
    http_parser_pause(&resp_, 0);
    if (resp_done_) {
      resp_done_ = false;
      complete_front(now_us);
    }
  }
  // Else the response was cut short: finish() reports it with status 0.
}

void HttpObserver::finish(uint64_t now_us) {
  if (state_ != State::active && state_ != State::upgraded) return;
  // The front one may have part of a response (its bytes are counted),
  // the others none.
  if (state_ == State::active) {
    while (!pending_.empty() && pending_.front().headers_done) {
      pending_.front().record.status = 0;
      complete_front(now_us);
    }
  }
  pending_.clear();
  state_ = State::finished;
}
