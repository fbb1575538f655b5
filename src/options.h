// Command-line options from a table: one getopt_long loop for both daemons,
// their --help option lists generated from the same tables, and the options
// both share (-v, --syslog, --daemon, --pid-file, -h, --version). No
// libevent and no I/O but getopt's own complaints on stderr, so the tests
// can run argv through it.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

// Exit statuses of argument parsing and start-up (sysexits.h); a runtime
// failure is 1.
constexpr int kExitUsage = 64;   // EX_USAGE
constexpr int kExitConfig = 78;  // EX_CONFIG: a bad config, key or certificate

// Takes an option's argument (null for an option without one); false with
// err ("bad value 'x' (1-3600 seconds)") refuses it.
using OptionSetter = std::function<bool(const char* arg, std::string& err)>;

struct Option {
  enum class Action { set, help, version };
  const char* name;    // long name, without "--"
  char letter;         // short form; 0: none
  const char* arg;     // its argument as --help shows it ("PATH"); null: takes none
  const char* help;    // --help text; each '\n' starts another indented line
  OptionSetter set;    // for Action::set
  Action action = Action::set;
};

struct OptionTable {
  const char* program;  // "forward-client": starts error lines and --version
  const char* head;     // --help text before the option list
  const char* tail;     // and after it
  size_t help_column;   // where the option descriptions start
  std::vector<Option> options;
};

// What to print, and the exit status, when argv says not to start.
struct ArgsExit {
  int status = 0;
  std::string out;  // for stdout: --help, --version
  std::string err;  // for stderr
};

// Runs getopt_long over argv, calling the setters in argv's order; the
// arguments that are not options go to operands. false: stop, as exit says
// (--help, --version, an unknown option or a refused value).
bool parse_options(const OptionTable& table, int argc, char** argv,
                   std::vector<std::string>& operands, ArgsExit& exit);
// --help: head, one line per option (and its continuation lines), tail.
std::string usage_text(const OptionTable& table);
// "program: message" and status 64, followed by the usage if with_usage.
ArgsExit usage_error(const OptionTable& table, const std::string& message, bool with_usage);
// Writes exit.out and exit.err; returns exit.status.
int print_exit(const ArgsExit& exit);

// The options both daemons have.
struct DaemonArgs {
  bool verbose = false;  // -v
  bool syslog = false;   // --syslog, or implied by --daemon
  bool daemon = false;   // --daemon
  std::string pid_file;  // --pid-file, as given
};
// Appends -v, --syslog, --daemon, --pid-file, -h and --version.
// with_config: the help says which keys of the config file -v and --pid-file
// override.
void add_daemon_options(std::vector<Option>& options, DaemonArgs& args, bool with_config);

// Setters for common kinds of value.
OptionSetter set_flag(bool& out);
OptionSetter set_text(std::string& out);
// Whole seconds in [min, 3600].
OptionSetter set_seconds(int& out, long min);
// A count in [1, 10,000,000].
OptionSetter set_count(size_t& out);
// "bad value 'TEXT' (HINT)", or without " (HINT)" if hint is empty.
std::string bad_value(const char* text, const std::string& hint);

// Value parsers behind the setters; false leaves out unchanged.
bool parse_seconds(const char* text, int& out, long min);
bool parse_count(const char* text, size_t& out);
// Bytes, with an optional K, M or G suffix (powers of 1024), at most 1T.
bool parse_size(const char* text, size_t& out);
