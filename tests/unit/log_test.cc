// Unit tests for the log's sink (src/log.*): what forward-client's console
// takes instead of stderr.
#include "log.h"

#include <cerrno>
#include <cstring>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

class LogSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_ = log_get_level();
    log_set_level(LogLevel::info);
    log_set_sink([this](const std::string& line) { lines_.push_back(line); });
  }
  void TearDown() override {
    log_set_sink(nullptr);
    log_set_level(saved_);
  }
  LogLevel saved_ = LogLevel::info;
  std::vector<std::string> lines_;
};

TEST_F(LogSinkTest, GetsTheLinesStderrWouldHaveHad) {
  log_notice("channel up %d", 7);
  errno = ECONNREFUSED;
  log_warn("cannot connect");
  EXPECT_EQ(ECONNREFUSED, errno) << "errno is preserved";
  log_debug("below the level");
  ASSERT_EQ(2u, lines_.size());
  std::regex stamp("^[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3} [^\\[]+\\[notice\\]: channel up 7$");
  EXPECT_TRUE(std::regex_match(lines_[0], stamp)) << lines_[0];
  std::string suffix = std::string("[warning]: cannot connect: ") + strerror(ECONNREFUSED);
  EXPECT_EQ(suffix, lines_[1].substr(lines_[1].size() - suffix.size())) << lines_[1];
  EXPECT_EQ(std::string::npos, lines_[1].find('\n'));
}

TEST_F(LogSinkTest, AnEmptySinkGivesStderrBack) {
  log_set_sink(nullptr);
  testing::internal::CaptureStderr();
  log_notice("to stderr");
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(lines_.empty());
  EXPECT_NE(std::string::npos, err.find("[notice]: to stderr\n")) << err;
}

}  // namespace
