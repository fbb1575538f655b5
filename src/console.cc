#include "console.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <sys/ioctl.h>
#include <unistd.h>

#include "log.h"

namespace {

constexpr timeval kTick{1, 0};
constexpr timeval kSoon{0, 100000};

// Cursor home; erase to the end of the line; erase below the cursor;
// erase the whole screen.
constexpr const char* kHome = "\x1b[H";
constexpr const char* kEraseLine = "\x1b[K";
constexpr const char* kEraseBelow = "\x1b[J";
constexpr const char* kEraseScreen = "\x1b[2J";

// All of s to stderr; a terminal that does not take it (EAGAIN, an error)
// loses this frame, never the loop.
void write_stderr(const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    ssize_t n = write(STDERR_FILENO, s.data() + done, s.size() - done);
    if (n > 0) {
      done += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return;
    }
  }
}

// The terminal's size; 80x24 if it does not say.
void terminal_size(size_t& width, size_t& height) {
  winsize ws{};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
    width = ws.ws_col;
    height = ws.ws_row;
    return;
  }
  width = 80;
  height = 24;
}

// A clock for the uptime, which no change of the wall clock moves.
int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

bool Console::wanted(bool syslog, bool no_console) {
  if (syslog || no_console || !isatty(STDERR_FILENO)) return false;
  const char* term = getenv("TERM");
  return term && *term && strcmp(term, "dumb") != 0;
}

Console::Console(event_base* base, const ForwardClient& client, ConsoleView::Setup setup)
    : base_(base), client_(client), view_(std::move(setup), steady_ms()) {}

Console::~Console() {
  if (on_) log_set_sink(nullptr);
}

void Console::start() {
  on_ = true;
  log_set_sink([this](const std::string& line) {
    view_.log_line(line);
    changed();
  });
  tick_.reset(event_new(base_, -1, EV_PERSIST, redraw_cb, this));
  soon_.reset(evtimer_new(base_, redraw_cb, this));
  winch_.reset(evsignal_new(base_, SIGWINCH, redraw_cb, this));
  event_add(tick_.get(), &kTick);
  event_add(winch_.get(), nullptr);
  write_stderr(std::string(kHome) + kEraseScreen);
  draw();
}

void Console::redraw_cb(evutil_socket_t, short, void* arg) noexcept {
  static_cast<Console*>(arg)->draw();
}

void Console::changed() {
  if (on_ && soon_ && !evtimer_pending(soon_.get(), nullptr)) evtimer_add(soon_.get(), &kSoon);
}

// Home, each line over the old one (erasing what is left of it), then
// everything below: no flicker, and no newline after the last line, so a
// full screen does not scroll.
void Console::draw() {
  if (!on_) return;
  if (soon_) evtimer_del(soon_.get());
  view_.set_metrics(client_.metrics());
  size_t width, height;
  terminal_size(width, height);
  std::string out = kHome;
  std::vector<std::string> lines = view_.render(width, height, steady_ms());
  for (size_t i = 0; i < lines.size(); ++i) {
    out += lines[i];
    out += kEraseLine;
    if (i + 1 < lines.size()) out += '\n';
  }
  out += kEraseBelow;
  write_stderr(out);
}

void Console::stopping() {
  view_.stopping();
  changed();
}

void Console::finish() {
  if (!on_) return;
  on_ = false;
  tick_.reset();
  soon_.reset();
  winch_.reset();
  log_set_sink(nullptr);
  view_.set_metrics(client_.metrics());
  write_stderr(std::string(kHome) + kEraseScreen + view_.summary(steady_ms()));
}

void Console::channel_up(const std::string& server, const std::string& tls) {
  view_.channel_up(server, tls);
  changed();
}

void Console::channel_down(const std::string& server, const std::string& why) {
  view_.channel_down(server, why);
  changed();
}

void Console::exposed(const std::string& spec, const std::string& url, const std::string& target) {
  view_.exposed(spec, url, target);
  changed();
}

void Console::expose_refused(const std::string& spec, const std::string& why) {
  view_.expose_refused(spec, why);
  changed();
}

void Console::request(const RequestRecord& r) {
  view_.request(r);
  changed();
}
