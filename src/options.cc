#include "options.h"

#include <getopt.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace {

// getopt_long's value for the long form of table.options[i]; short forms
// come back as their letter, which is below it.
constexpr int kFirstLong = 256;

const Option* find_option(const OptionTable& table, int c) {
  if (c >= kFirstLong && static_cast<size_t>(c - kFirstLong) < table.options.size())
    return &table.options[c - kFirstLong];
  for (const Option& o : table.options)
    if (o.letter != 0 && o.letter == c) return &o;
  return nullptr;
}

// One option's --help lines: "  -v, --verbose" or "      --tag NAME", padded
// to the column, then its text, continuation lines indented to the column.
void append_usage_line(std::string& s, const Option& o, size_t column) {
  std::string line = o.letter ? std::string("  -") + o.letter + ", --" : std::string("      --");
  line += o.name;
  if (o.arg) line += std::string(" ") + o.arg;
  line.resize(std::max(column, line.size() + 1), ' ');
  for (const char* p = o.help; *p; ++p) {
    line += *p;
    if (*p == '\n' && p[1]) line.append(column, ' ');
  }
  s += line + "\n";
}

// strtoull, but text must start with a digit (no sign, no space) and fit.
bool parse_digits(const char* text, unsigned long long& v, char*& end) {
  errno = 0;
  v = strtoull(text, &end, 10);
  return *text >= '0' && *text <= '9' && errno == 0;
}

}  // namespace

bool parse_options(const OptionTable& table, int argc, char** argv,
                   std::vector<std::string>& operands, ArgsExit& exit) {
  std::vector<option> longs;
  std::string shorts;
  for (size_t i = 0; i < table.options.size(); ++i) {
    const Option& o = table.options[i];
    int has_arg = o.arg ? required_argument : no_argument;
    longs.push_back({o.name, has_arg, nullptr, kFirstLong + static_cast<int>(i)});
    if (o.letter) shorts += o.arg ? std::string(1, o.letter) + ":" : std::string(1, o.letter);
  }
  longs.push_back({nullptr, 0, nullptr, 0});
  optind = 0;  // glibc: start afresh, so every call sees the whole of argv
  int c;
  while ((c = getopt_long(argc, argv, shorts.c_str(), longs.data(), nullptr)) != -1) {
    const Option* o = find_option(table, c);
    if (!o) {  // getopt_long has said what is wrong
      exit = {kExitUsage, "", usage_text(table)};
      return false;
    }
    if (o->action == Option::Action::help) {
      exit = {0, usage_text(table), ""};
      return false;
    }
    if (o->action == Option::Action::version) {
      exit = {0, std::string(table.program) + " (tcp-forward) " PACKAGE_VERSION "\n", ""};
      return false;
    }
    std::string err;
    if (!o->set(optarg, err)) {
      exit = usage_error(table, std::string("--") + o->name + ": " + err, false);
      return false;
    }
  }
  operands.assign(argv + optind, argv + argc);
  return true;
}

std::string usage_text(const OptionTable& table) {
  std::string s = table.head;
  for (const Option& o : table.options) append_usage_line(s, o, table.help_column);
  return s + table.tail;
}

ArgsExit usage_error(const OptionTable& table, const std::string& message, bool with_usage) {
  ArgsExit exit{kExitUsage, "", std::string(table.program) + ": " + message + "\n"};
  if (with_usage) exit.err += usage_text(table);
  return exit;
}

int print_exit(const ArgsExit& exit) {
  fputs(exit.out.c_str(), stdout);
  fputs(exit.err.c_str(), stderr);
  return exit.status;
}

void add_daemon_options(std::vector<Option>& options, DaemonArgs& args, bool with_config) {
  options.push_back({"verbose", 'v', nullptr,
                     with_config ? "log at debug level (overrides LOG_LEVEL)"
                                 : "log at debug level",
                     set_flag(args.verbose)});
  options.push_back({"syslog", 0, nullptr, "log to syslog (facility daemon) instead of stderr",
                     set_flag(args.syslog)});
  options.push_back({"daemon", 0, nullptr, "detach into the background (implies --syslog)",
                     [&args](const char*, std::string&) {
                       args.daemon = args.syslog = true;
                       return true;
                     }});
  options.push_back({"pid-file", 0, "PATH",
                     with_config ? "write the process id to PATH (overrides PID_FILE)"
                                 : "write the process id to PATH",
                     set_text(args.pid_file)});
  options.push_back({"help", 'h', nullptr, "show this help and exit", nullptr,
                     Option::Action::help});
  options.push_back({"version", 0, nullptr, "show the version and exit", nullptr,
                     Option::Action::version});
}

OptionSetter set_flag(bool& out) {
  return [&out](const char*, std::string&) {
    out = true;
    return true;
  };
}

OptionSetter set_text(std::string& out) {
  return [&out](const char* arg, std::string&) {
    out = arg;
    return true;
  };
}

OptionSetter set_seconds(int& out, long min) {
  return [&out, min](const char* arg, std::string& err) {
    if (parse_seconds(arg, out, min)) return true;
    err = bad_value(arg, std::to_string(min) + "-3600 seconds");
    return false;
  };
}

OptionSetter set_count(size_t& out) {
  return [&out](const char* arg, std::string& err) {
    if (parse_count(arg, out)) return true;
    err = bad_value(arg, "1-10000000");
    return false;
  };
}

std::string bad_value(const char* text, const std::string& hint) {
  std::string s = std::string("bad value '") + text + "'";
  return hint.empty() ? s : s + " (" + hint + ")";
}

bool parse_seconds(const char* text, int& out, long min) {
  char* end;
  long v = strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || v < min || v > 3600) return false;
  out = static_cast<int>(v);
  return true;
}

bool parse_count(const char* text, size_t& out) {
  unsigned long long v;
  char* end;
  if (!parse_digits(text, v, end) || *end != '\0' || v < 1 || v > 10000000) return false;
  out = static_cast<size_t>(v);
  return true;
}

bool parse_size(const char* text, size_t& out) {
  unsigned long long v;
  char* end;
  if (!parse_digits(text, v, end)) return false;
  int shift = 0;
  switch (*end) {
    case '\0': break;
    case 'k': case 'K': shift = 10; break;
    case 'm': case 'M': shift = 20; break;
    case 'g': case 'G': shift = 30; break;
    default: return false;
  }
  if (*end && end[1] != '\0') return false;
  if (v > (1ULL << 40) >> shift) return false;
  out = static_cast<size_t>(v << shift);
  return true;
}
