// Unit tests for the Prometheus text writer (src/metrics_text.{h,cc}).
#include "metrics_text.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

using metrics::Histogram;
using metrics::Labels;
using metrics::TextWriter;

TEST(MetricsText, LabelValueEscaping) {
  EXPECT_EQ("plain", metrics::escape_label_value("plain"));
  EXPECT_EQ("a\\\\b", metrics::escape_label_value("a\\b"));
  EXPECT_EQ("say \\\"hi\\\"", metrics::escape_label_value("say \"hi\""));
  EXPECT_EQ("one\\ntwo", metrics::escape_label_value("one\ntwo"));
  EXPECT_EQ("[::1]:22/udp", metrics::escape_label_value("[::1]:22/udp"));
}

TEST(MetricsText, HelpEscapingKeepsQuotes) {
  EXPECT_EQ("a \"b\" c\\\\d\\ne", metrics::escape_help("a \"b\" c\\d\ne"));
}

TEST(MetricsText, Values) {
  EXPECT_EQ("0", metrics::format_value(0));
  EXPECT_EQ("42", metrics::format_value(42));
  EXPECT_EQ("-3", metrics::format_value(-3));
  EXPECT_EQ("0.25", metrics::format_value(0.25));
  EXPECT_EQ("0.1", metrics::format_value(0.1));
  EXPECT_EQ("1700000000", metrics::format_value(1700000000.0));
  EXPECT_EQ("+Inf", metrics::format_value(std::numeric_limits<double>::infinity()));
  EXPECT_EQ("-Inf", metrics::format_value(-std::numeric_limits<double>::infinity()));
  EXPECT_EQ("NaN", metrics::format_value(std::nan("")));
  // Not exactly representable in %.15g: the shortest form that reads back.
  double v = 0.1 + 0.2;
  EXPECT_EQ(v, std::strtod(metrics::format_value(v).c_str(), nullptr));
}

TEST(MetricsText, Names) {
  EXPECT_TRUE(metrics::valid_metric_name("tcpforward_mapping_bytes_total"));
  EXPECT_TRUE(metrics::valid_metric_name("a:b"));
  EXPECT_FALSE(metrics::valid_metric_name("1abc"));
  EXPECT_FALSE(metrics::valid_metric_name("a-b"));
  EXPECT_FALSE(metrics::valid_metric_name(""));
  EXPECT_TRUE(metrics::valid_label_name("mapping"));
  EXPECT_FALSE(metrics::valid_label_name("a:b"));
}

TEST(MetricsText, FamilyAndSamples) {
  TextWriter w;
  w.family("x_total", "counter", "Things\ncounted.");
  w.sample("x_total", Labels{{"mapping", "0.0.0.0:80"}, {"direction", "in"}}, uint64_t{18446744073709551615u});
  w.sample("x_total", 1.5);
  EXPECT_EQ("# HELP x_total Things\\ncounted.\n"
            "# TYPE x_total counter\n"
            "x_total{mapping=\"0.0.0.0:80\",direction=\"in\"} 18446744073709551615\n"
            "x_total 1.5\n",
            w.text());
}

TEST(MetricsText, LabelValueWithQuoteInSample) {
  TextWriter w;
  w.sample("m", Labels{{"client", "a\"b\\c\nd"}}, uint64_t{1});
  EXPECT_EQ("m{client=\"a\\\"b\\\\c\\nd\"} 1\n", w.text());
}

TEST(MetricsHistogram, BucketsAreUpperBoundsInclusive) {
  Histogram h({0.1, 1});
  h.observe(0.05);
  h.observe(0.1);  // le="0.1" includes 0.1
  h.observe(0.5);
  h.observe(7);
  ASSERT_EQ(3u, h.counts().size());
  EXPECT_EQ(2u, h.counts()[0]);
  EXPECT_EQ(1u, h.counts()[1]);
  EXPECT_EQ(1u, h.counts()[2]);
  EXPECT_EQ(4u, h.count());
  EXPECT_DOUBLE_EQ(7.65, h.sum());
}

TEST(MetricsHistogram, ExpositionIsCumulativeWithInf) {
  Histogram h({0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(2);
  TextWriter w;
  w.family("t_seconds", "histogram", "Times.");
  w.histogram("t_seconds", Labels{{"k", "v"}}, h);
  EXPECT_EQ("# HELP t_seconds Times.\n"
            "# TYPE t_seconds histogram\n"
            "t_seconds_bucket{k=\"v\",le=\"0.1\"} 1\n"
            "t_seconds_bucket{k=\"v\",le=\"1\"} 2\n"
            "t_seconds_bucket{k=\"v\",le=\"+Inf\"} 3\n"
            "t_seconds_sum{k=\"v\"} 2.55\n"
            "t_seconds_count{k=\"v\"} 3\n",
            w.text());
}

TEST(MetricsHistogram, EmptyHistogramHasZeroBuckets) {
  Histogram h(metrics::latency_buckets());
  TextWriter w;
  w.histogram("c", Labels{}, h);
  EXPECT_NE(std::string::npos, w.text().find("c_bucket{le=\"0.0005\"} 0\n"));
  EXPECT_NE(std::string::npos, w.text().find("c_bucket{le=\"+Inf\"} 0\n"));
  EXPECT_NE(std::string::npos, w.text().find("c_sum 0\nc_count 0\n"));
}
