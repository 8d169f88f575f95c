#!/usr/bin/env bash
# Fails if any C++ file is not clang-formatted (run `make fmt` to fix).
set -euo pipefail
cd "$(dirname "$0")/.."
dirs=()
for d in lib hack e2e tests bench operator webhook cmd; do [ -d "$d" ] && dirs+=("$d"); done
files=$(find "${dirs[@]}" \( -name '*.cc' -o -name '*.h' \) -not -path '*/build*' | sort)
[ -n "$files" ] || exit 0
# shellcheck disable=SC2086
clang-format --dry-run --Werror $files
echo "check-format: $(wc -w <<<"$files") files formatted"
