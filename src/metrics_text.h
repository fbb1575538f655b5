// The Prometheus text exposition format (version 0.0.4): HELP and TYPE
// lines, samples with escaped label values, histograms with cumulative
// `le` buckets, _sum and _count. Pure: no I/O, no libevent.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

// A label value as the format quotes it: backslash, double quote and line
// feed become \\, \" and \n.
std::string escape_label_value(const std::string& v);
// HELP text: backslash and line feed escaped (quotes stay).
std::string escape_help(const std::string& v);
// A sample value: integers exactly ("42"), others shortest round-trip
// ("0.25"), and "+Inf", "-Inf", "NaN".
std::string format_value(double v);
// [a-zA-Z_:][a-zA-Z0-9_:]* (metric names); labels may not use ':'.
bool valid_metric_name(const std::string& name);
bool valid_label_name(const std::string& name);

// A histogram: observations counted into fixed upper bounds (ascending),
// plus +Inf, with their sum.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  // Adds another histogram of the same bounds (merged series).
  void add(const Histogram& o);
  const std::vector<double>& bounds() const { return bounds_; }
  // Per bucket, not cumulative; one more than bounds() (the +Inf bucket).
  const std::vector<uint64_t>& counts() const { return counts_; }
  double sum() const { return sum_; }
  uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;
  double sum_ = 0;
  uint64_t count_ = 0;
};

// Connect and round-trip times, in seconds: 0.5 ms to 10 s.
std::vector<double> latency_buckets();

// Builds one exposition text. Each family starts with family(); its
// samples follow (the format wants a family's samples together).
class TextWriter {
 public:
  // type: "counter", "gauge" or "histogram".
  void family(const std::string& name, const char* type, const std::string& help);
  void sample(const std::string& name, const Labels& labels, double value);
  void sample(const std::string& name, const Labels& labels, uint64_t value);
  void sample(const std::string& name, double value) { sample(name, Labels{}, value); }
  void sample(const std::string& name, uint64_t value) { sample(name, Labels{}, value); }
  // name_bucket{...,le="b"} cumulative, name_sum, name_count.
  void histogram(const std::string& name, const Labels& labels, const Histogram& h);
  const std::string& text() const { return text_; }

 private:
  void series(const std::string& name, const Labels& labels, const std::string& value);
  std::string text_;
};

}  // namespace metrics
