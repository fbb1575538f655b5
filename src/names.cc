#include "names.h"

#include "frame.h"

static_assert(frame::kMaxTag == frame::kMaxClientName, "one length rule for names and tags");

bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > frame::kMaxTag) return false;
  for (char c : s)
    if (c <= 0x20 || c >= 0x7f) return false;
  return true;
}
