// Detaching from the terminal, and the pid file.
#pragma once

#include <string>

// fork + setsid + fork, chdir("/"), stdio to /dev/null. The original
// process waits until the daemon calls daemon_ready() and then exits 0; if
// the daemon exits first (a start-up failure) it exits 1, so the caller of
// --daemon learns about failures (daemon(7)). Call after the sockets are
// bound, and event_reinit() the event base afterwards.
bool daemonize(std::string& err);
// Tells the waiting original process that start-up is complete.
void daemon_ready();

// Makes a relative path absolute against the current directory (before
// daemonize() changes it).
std::string absolute_path(const std::string& path);

// Writes getpid() to path (atomically, via a temporary file); removed again
// by remove_pid_file() at exit.
bool write_pid_file(const std::string& path, std::string& err);
// Before privileges are dropped to user (and group, "" = the user's): makes
// the pid file theirs, so that the unprivileged daemon can still clear it
// at exit. false with err if the user is unknown or the file cannot be
// handed over (the daemon runs anyway).
bool give_pid_file(const std::string& path, const std::string& user, const std::string& group,
                   std::string& err);
// Removes the pid file; where its folder is not writable any more (root's
// /run after dropping privileges) it is emptied instead, and err says so.
// false only in that case or on another failure.
bool remove_pid_file(const std::string& path, std::string& err);
void remove_pid_file(const std::string& path);
