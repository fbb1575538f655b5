// forward-client's live console, the I/O half: when stderr is a terminal
// (and neither --syslog nor --no-console), it takes the log's stderr lines
// (log_set_sink), hears the client's events, and redraws ConsoleView's
// lines (console_view.h) with plain ANSI escapes: once a second, soon
// after an event (at most every 100 ms), and when the terminal is resized.
// finish() puts stderr back and prints the exit summary.
#pragma once

#include <cstdint>
#include <string>

#include "client.h"
#include "client_events.h"
#include "console_view.h"
#include "ev.h"

class Console final : public ClientEvents {
 public:
  // A console is wanted: stderr is a terminal that can move its cursor
  // (TERM set, not "dumb"), and neither --syslog nor --no-console is given.
  static bool wanted(bool syslog, bool no_console);

  // client is read (metrics) on every redraw; both must outlive the console.
  Console(event_base* base, const ForwardClient& client, ConsoleView::Setup setup);
  ~Console();
  Console(const Console&) = delete;
  Console& operator=(const Console&) = delete;

  // Takes the log's lines, clears the screen and draws.
  void start();
  // TERM/INT: shows that the client is stopping.
  void stopping();
  // Gives the log back to stderr, clears the screen and prints the
  // summary; the console is off afterwards. Idempotent.
  void finish();

  void channel_up(const std::string& server, const std::string& tls) override;
  void channel_down(const std::string& server, const std::string& why) override;
  void exposed(const std::string& spec, const std::string& url, const std::string& target) override;
  void expose_refused(const std::string& spec, const std::string& why) override;
  void request(const RequestRecord& r) override;

 private:
  static void redraw_cb(evutil_socket_t, short, void* arg) noexcept;
  // Redraws soon, once for however many events come before then.
  void changed();
  void draw();

  event_base* base_;
  const ForwardClient& client_;
  ConsoleView view_;
  EventPtr tick_;    // every second
  EventPtr soon_;    // after an event
  EventPtr winch_;   // SIGWINCH
  bool on_ = false;
};
