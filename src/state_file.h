// Writes STATE_FILE (forward-ctl add/remove) so that a crash or power loss
// leaves the old file or the new one, never a part: a temporary file in
// the same folder, fsync, rename over the old one, fsync the folder.
#pragma once

#include <string>

// Replaces path by text (mode 0640); false with err naming the step.
bool write_state_file(const std::string& path, const std::string& text, std::string& err);
