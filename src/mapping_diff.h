// What a reload changes among the public mappings: a pure function of the
// old and new lists, keyed by Mapping::public_name() (listening address and
// protocol). No libevent; the server applies the result (server.cc).
//
//   keep    same key, same_as(): the listener and its streams stay
//   change  same key, other target/rules/tag/MAX_CONNECTIONS: the listener
//           stays, new streams use the new mapping
//   remove  key gone: stop listening, live streams drain
//   add     new key: bind
//
// Apply removals before additions, so a port that moves can bind again.
// Pointers point into the two lists, which must outlive the diff. Keys are
// unique in each list (config.cc rejects a second mapping of one address).
#pragma once

#include <vector>

#include "config.h"

struct MappingChange {
  const Mapping* before;
  const Mapping* after;
};

struct MappingDiff {
  std::vector<MappingChange> keep;    // in the new list's order
  std::vector<MappingChange> change;  // in the new list's order
  std::vector<const Mapping*> add;    // new mappings, in the new list's order
  std::vector<const Mapping*> remove;  // old mappings, sorted by public_name()
};

MappingDiff diff_mappings(const std::vector<Mapping>& before, const std::vector<Mapping>& after);
