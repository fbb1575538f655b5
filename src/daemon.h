// Detaching from the terminal and the pid file.
#pragma once

#include <string>

// fork + setsid + fork, chdir("/"), stdio to /dev/null. The parent exits 0.
// Call after sockets are bound (so bind errors reach the terminal) and call
// event_reinit() on the event base afterwards.
bool daemonize(std::string& err);

// Writes getpid() to path (atomically, via a temporary file). The file is
// removed again by remove_pid_file() at exit.
bool write_pid_file(const std::string& path, std::string& err);
void remove_pid_file(const std::string& path);
