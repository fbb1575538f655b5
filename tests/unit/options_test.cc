// Unit tests for the option table and getopt_long loop (src/options.{h,cc}).
#include "options.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "argv.h"

namespace {

// A small table: -q, --name NAME (refuses "bad"), --count N, the daemon options.
struct Fixture {
  bool quiet = false;
  std::string name;
  size_t count = 0;
  std::vector<std::string> order;  // setters in the order called
  DaemonArgs daemon;
  OptionTable table{"prog", "usage: prog [options] ARG\n", "tail\n", 16, {}};

  Fixture() {
    table.options.push_back({"quiet", 'q', nullptr, "say less", [this](const char*, std::string&) {
                               quiet = true;
                               order.push_back("quiet");
                               return true;
                             }});
    table.options.push_back({"name", 0, "NAME", "the name\nsecond line",
                             [this](const char* arg, std::string& err) {
                               order.push_back(std::string("name=") + arg);
                               if (std::string(arg) == "bad") {
                                 err = bad_value(arg, "not bad");
                                 return false;
                               }
                               name = arg;
                               return true;
                             }});
    table.options.push_back({"count", 'c', "N", "how many", set_count(count)});
    add_daemon_options(table.options, daemon, false);
  }

  std::vector<std::string> ops;  // what the last parse left
  ArgsExit exit;

  bool parse(Argv argv) {
      return parse_options(table, argv.argc(), argv.argv(), ops, exit);
  }
};

}  // namespace

TEST(UsageText, ColumnsLettersArgumentsAndContinuationLines) {
  Fixture f;
  std::string u = usage_text(f.table);
  EXPECT_EQ(0u, u.find("usage: prog [options] ARG\n"
                       "  -q, --quiet   say less\n"
                       "      --name NAME the name\n"
                       "                second line\n"
                       "  -c, --count N how many\n"
                       "  -v, --verbose log at debug level\n"))
      << u;
  // As long as the column or longer: one space still separates the text.
  EXPECT_NE(std::string::npos, u.find("      --pid-file PATH write the process id to PATH\n")) << u;
  EXPECT_NE(std::string::npos, u.find("  -h, --help    show this help and exit\n")) << u;
  EXPECT_EQ(u.size() - 5, u.rfind("tail\n"));
}

TEST(ParseOptions, SettersInOrderAndOperands) {
  Fixture f;
  ASSERT_TRUE(f.parse({"prog", "--name", "a", "one", "-q", "--count=7", "two", "--name", "b"}));
  EXPECT_EQ((std::vector<std::string>{"name=a", "quiet", "name=b"}), f.order);
  EXPECT_EQ("b", f.name) << "the last of a repeated option wins";
  EXPECT_TRUE(f.quiet);
  EXPECT_EQ(7u, f.count);
  EXPECT_EQ((std::vector<std::string>{"one", "two"}), f.ops) << "operands, wherever they stand";
}

TEST(ParseOptions, ShortFormsCombinedAndWithArguments) {
  Fixture f;
  ASSERT_TRUE(f.parse({"prog", "-qv", "-c", "3", "x"}));
  EXPECT_TRUE(f.quiet);
  EXPECT_TRUE(f.daemon.verbose);
  EXPECT_EQ(3u, f.count);
  EXPECT_EQ((std::vector<std::string>{"x"}), f.ops);
}

TEST(ParseOptions, DoubleDashEndsOptions) {
  Fixture f;
  ASSERT_TRUE(f.parse({"prog", "--", "-q"}));
  EXPECT_FALSE(f.quiet);
  EXPECT_EQ((std::vector<std::string>{"-q"}), f.ops);
}

TEST(ParseOptions, AbbreviatedLongNames) {
  Fixture f;
  ASSERT_TRUE(f.parse({"prog", "--qu", "--na", "n"}));
  EXPECT_TRUE(f.quiet);
  EXPECT_EQ("n", f.name);
}

TEST(ParseOptions, HelpAndVersionStopAtOnce) {
  Fixture f;
  EXPECT_FALSE(f.parse({"prog", "-h", "--name", "bad"}));
  EXPECT_EQ(0, f.exit.status);
  EXPECT_EQ(usage_text(f.table), f.exit.out);
  EXPECT_EQ("", f.exit.err);
  EXPECT_TRUE(f.order.empty()) << "nothing after --help is looked at";

  EXPECT_FALSE(f.parse({"prog", "--version"}));
  EXPECT_EQ(0, f.exit.status);
  EXPECT_EQ("prog (tcp-forward) " PACKAGE_VERSION "\n", f.exit.out);
  EXPECT_EQ("", f.exit.err);
}

TEST(ParseOptions, RefusedValueNamesTheOption) {
  Fixture f;
  EXPECT_FALSE(f.parse({"prog", "--name", "bad", "--help"}));
  EXPECT_EQ(kExitUsage, f.exit.status);
  EXPECT_EQ("", f.exit.out);
  EXPECT_EQ("prog: --name: bad value 'bad' (not bad)\n", f.exit.err) << "no usage after it";

  EXPECT_FALSE(f.parse({"prog", "-c", "0"}));
  EXPECT_EQ(kExitUsage, f.exit.status);
  EXPECT_EQ("prog: --count: bad value '0' (1-10000000)\n", f.exit.err);
}

TEST(ParseOptions, UnknownOrIncompleteOptionsShowTheUsage) {
  // getopt_long itself writes what is wrong to stderr; then the usage.
  for (Argv argv : {Argv{"prog", "--nope"}, Argv{"prog", "-x"}, Argv{"prog", "--name"},
                    Argv{"prog", "--quiet=1"}, Argv{"prog", "--ver"}, Argv{"prog", "-V"}}) {
    Fixture f;
    EXPECT_FALSE(f.parse(argv)) << argv.argv()[1];
    EXPECT_EQ(kExitUsage, f.exit.status) << argv.argv()[1];
    EXPECT_EQ(usage_text(f.table), f.exit.err) << argv.argv()[1];
  }
}

TEST(ParseOptions, EachCallStartsAfresh) {
  Fixture f;
  ASSERT_TRUE(f.parse({"prog", "-q", "a"}));
  ASSERT_TRUE(f.parse({"prog", "--name", "n", "b"}));
  EXPECT_EQ("n", f.name);
  EXPECT_EQ((std::vector<std::string>{"b"}), f.ops);
}

TEST(DaemonOptions, DaemonImpliesSyslogAndPidFileIsKeptAsGiven) {
  Fixture f;
  ASSERT_TRUE(f.parse({"prog", "--daemon", "--pid-file", "run/x.pid"}));
  EXPECT_TRUE(f.daemon.daemon);
  EXPECT_TRUE(f.daemon.syslog);
  EXPECT_FALSE(f.daemon.verbose);
  EXPECT_EQ("run/x.pid", f.daemon.pid_file);

  Fixture g;
  ASSERT_TRUE(g.parse({"prog", "--syslog"}));
  EXPECT_TRUE(g.daemon.syslog);
  EXPECT_FALSE(g.daemon.daemon);
}

TEST(DaemonOptions, WithConfigTheHelpNamesTheKeysOverridden) {
  DaemonArgs args;
  std::vector<Option> with, without;
  add_daemon_options(with, args, true);
  add_daemon_options(without, args, false);
  ASSERT_EQ(6u, with.size());
  std::vector<std::string> names;
  for (const Option& o : with) names.push_back(o.name);
  std::vector<std::string> want{"verbose", "syslog", "daemon", "pid-file", "help", "version"};
  EXPECT_EQ(want, names);
  EXPECT_STREQ("log at debug level (overrides LOG_LEVEL)", with[0].help);
  EXPECT_STREQ("log at debug level", without[0].help);
  EXPECT_STREQ("write the process id to PATH (overrides PID_FILE)", with[3].help);
  EXPECT_STREQ("write the process id to PATH", without[3].help);
}

TEST(UsageError, WithAndWithoutTheUsage) {
  Fixture f;
  ArgsExit e = usage_error(f.table, "expected ARG", true);
  EXPECT_EQ(kExitUsage, e.status);
  EXPECT_EQ("prog: expected ARG\n" + usage_text(f.table), e.err);
  e = usage_error(f.table, "bad ARG", false);
  EXPECT_EQ("prog: bad ARG\n", e.err);
  EXPECT_EQ("", e.out);
}

TEST(BadValue, WithAndWithoutAHint) {
  EXPECT_EQ("bad value 'x' (1-3)", bad_value("x", "1-3"));
  EXPECT_EQ("bad value 'x'", bad_value("x", ""));
}

// parse(good.first) gives good.second; every bad text is refused, leaving
// the output as it was.
template <class T>
void expect_parses(bool (*parse)(const char*, T&),
                   std::initializer_list<std::pair<const char*, T>> good,
                   std::initializer_list<const char*> bad) {
  T out{};
  for (const auto& g : good) {
    EXPECT_TRUE(parse(g.first, out)) << g.first;
    EXPECT_EQ(g.second, out) << g.first;
  }
  T before = out;
  for (const char* text : bad) EXPECT_FALSE(parse(text, out)) << text;
  EXPECT_EQ(before, out);
}

TEST(ParseSeconds, Bounds) {
  int s = 42;
  EXPECT_FALSE(parse_seconds("0", s, 1));
  EXPECT_EQ(42, s) << "a refused value must not change the output";
  EXPECT_TRUE(parse_seconds("0", s, 0));
  EXPECT_EQ(0, s);
  EXPECT_TRUE(parse_seconds("3600", s, 1));
  EXPECT_EQ(3600, s);
  for (const char* bad : {"3601", "", "1s", "-1", "x"})
    EXPECT_FALSE(parse_seconds(bad, s, 0)) << bad;
}

TEST(ParseCount, Bounds) {
  expect_parses<size_t>(parse_count, {{"1", 1}, {"10000000", 10000000}},
                        {"0", "10000001", "-1", "+1", " 1", "", "1k", "99999999999999999999999"});
}

TEST(ParseSize, SuffixesAndBounds) {
  expect_parses<size_t>(parse_size,
                        {{"0", 0}, {"123", 123}, {"2k", 2048}, {"16M", 16u << 20},
                         {"1024G", size_t{1} << 40}, {"1099511627776", size_t{1} << 40}},
                        {"1025G", "1099511627777", "2T", "1KB", "k", "", "-1", " 1", "1.5M"});
}
