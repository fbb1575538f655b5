#include "mapping_diff.h"

#include <map>
#include <string>

MappingDiff diff_mappings(const std::vector<Mapping>& before, const std::vector<Mapping>& after) {
  std::map<std::string, const Mapping*> old;
  for (const Mapping& m : before) old[m.public_name()] = &m;
  MappingDiff d;
  for (const Mapping& m : after) {
    auto it = old.find(m.public_name());
    if (it == old.end()) {
      d.add.push_back(&m);
      continue;
    }
    (it->second->same_as(m) ? d.keep : d.change).push_back({it->second, &m});
    old.erase(it);
  }
  for (const auto& kv : old) d.remove.push_back(kv.second);
  return d;
}
