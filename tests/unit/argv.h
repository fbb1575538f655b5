// Helpers for the tests of the argument parsers. Argv is a mutable argv
// (getopt_long permutes it): Argv a{"forward-client", "--tls", "host", "1"}.
#pragma once

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "options.h"

class Argv {
 public:
  Argv(std::initializer_list<std::string> words) : Argv(std::vector<std::string>(words)) {}
  explicit Argv(std::vector<std::string> words) : words_(std::move(words)) {
    for (std::string& w : words_) ptrs_.push_back(&w[0]);
    ptrs_.push_back(nullptr);
  }
  Argv(const Argv& other) : Argv(other.words_) {}
  Argv& operator=(const Argv&) = delete;
  int argc() const { return static_cast<int>(words_.size()); }
  char** argv() { return ptrs_.data(); }

 private:
  std::vector<std::string> words_;
  std::vector<char*> ptrs_;
};

// What parse (parse_client_args, parse_server_args) leaves to print when it
// says not to start; status -1 if it would start.
template <class Args>
ArgsExit early_exit(bool (*parse)(int, char**, Args&, ArgsExit&), Argv argv) {
  Args args;
  ArgsExit exit;
  if (parse(argv.argc(), argv.argv(), args, exit)) exit.status = -1;
  return exit;
}

// What --help prints (and -h prints the same), checking that it exits 0.
template <class Args>
std::string help_text(bool (*parse)(int, char**, Args&, ArgsExit&), const std::string& program) {
  ArgsExit help = early_exit(parse, {program, "--help"});
  EXPECT_EQ(0, help.status);
  EXPECT_EQ("", help.err);
  EXPECT_EQ(help.out, early_exit(parse, {program, "-h"}).out);
  return help.out;
}
