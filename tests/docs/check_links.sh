#!/usr/bin/env bash
# The documentation stands alone: every relative link in README.md and
# docs/*.md names a file of the repository, and no tracked file points at a
# path outside it (a reference folder of the developers' machines).
set -u
fail=0
for f in README.md docs/*.md kernels/README.md; do
  dir=$(dirname "$f")
  while IFS= read -r target; do
    target=${target%%#*}
    [ -z "$target" ] && continue
    case $target in http://* | https://* | mailto:*) continue ;; esac
    if [ ! -e "$dir/$target" ]; then echo "FAIL $f links to '$target', which does not exist"; fail=1; fi
  done < <(grep -o '](\([^)]*\))' "$f" | sed 's/^](//; s/)$//')
done
if outside=$(git grep -n -e '/work/' -e 'shared/reference' -e '\.\./shared' -- ':!tests/docs/check_links.sh' 2>/dev/null) && [ -n "$outside" ]; then
  echo "FAIL files point outside the repository:"
  echo "$outside"
  fail=1
fi
[ $fail = 0 ] && echo "PASS every link in README.md and docs/ resolves; nothing points outside the repository"
exit $fail
