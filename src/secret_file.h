// Reading a file that holds a secret (an authentication key, a TLS private
// key) without trusting its path: the file itself is opened once, without
// following a symbolic link, and its owner-set mode is checked on that open
// descriptor, which is then read; nothing can be swapped in between.
#pragma once

#include <string>

// Reads the secret file path into text. Refuses (false, err without the
// path) a symbolic link, anything but a regular file, a file its group or
// other users may write, and one other users may read. Group-readable is
// allowed: root:tcp-forward 0640 is the packaged layout.
bool read_secret_file(const std::string& path, std::string& text, std::string& err);

// Overwrites text with zeros before clearing it (the string's buffer is
// freed later by its owner, so scrub it first).
void wipe_secret(std::string& text);
