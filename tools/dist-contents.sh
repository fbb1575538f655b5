#!/bin/bash
# Checks that the release tarball (make dist) ships every file git tracks,
# but for the repository's own plumbing: README and the docs link to
# bench/, docs/ and tools/, so a tarball without them is broken for its
# reader. Usage: tools/dist-contents.sh TARBALL. Prints what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
tarball=$1
# Files that belong to the git repository, not to a release.
not_shipped='^(\.ci/|\.gitignore$)'
top=$(tar tzf "$tarball" | sed -n '1s|/.*||p')
missing=$(comm -23 <(git ls-files | grep -Ev "$not_shipped" | sort) \
                   <(tar tzf "$tarball" | sed "s|^$top/||" | sort))
if [ -n "$missing" ]; then
  echo "dist-contents: $tarball lacks $(wc -l <<<"$missing") tracked files:"
  sed 's/^/  /' <<<"$missing"
  exit 1
fi
echo "dist-contents: $tarball ships all $(git ls-files | grep -Evc "$not_shipped") tracked files"
