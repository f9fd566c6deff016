#!/usr/bin/env bash
# Every problem slug the code can send is documented in docs/problems.md (CONTRACT.md: "each
# slug documented"): the SDK's slugs by status, and every slug named where an error is made.
set -euo pipefail
cd "$(dirname "$0")/../.."
doc=docs/problems.md
slugs=$(
  {
    # The SDK's table of slugs by status.
    sed -n '/problemSlug(int status)/,/^}/p' core/include/ciclo/plugin.h | grep -oE 'return "[a-z-]+"' | cut -d'"' -f2
    # Slugs named where errors are made: problem(NNN, "slug"...), conflict(..., "slug"), and
    # Error{kind, message, fields, "slug"}, over line breaks.
    find core plugins -name '*.cpp' -o -name '*.h' | grep -v /tests/ | xargs perl -0777 -ne '
      print "$1\n" while /problem\(\d{3}, "([a-z]+(?:-[a-z]+)*)"/g;
      print "$1\n" while /conflict\((?:(?!\);).)*?,\s*"([a-z]+(?:-[a-z]+)+)"\s*\)/gs;
      print "$1\n" while /\{\}\s*,\s*"([a-z]+(?:-[a-z]+)+)"\s*\}/g;'
  } | sort -u
)
missing=0
for slug in $slugs; do
  [ -n "${CICLO_LIST_SLUGS:-}" ] && echo "$slug"
  if ! grep -q "^| \`$slug\` |" "$doc"; then
    echo "problem type /problems/$slug is not documented in $doc" >&2
    missing=1
  fi
done
count=$(echo "$slugs" | wc -w)
[ "$count" -ge 20 ] || { echo "found only $count slugs in the code; the scan is broken" >&2; exit 1; }
echo "$count problem slugs, each documented"
exit $missing
