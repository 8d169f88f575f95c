#!/usr/bin/env bash
# Fails if any C++ file is not clang-formatted (run `make fmt` to fix).
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(find lib hack e2e tests bench operator webhook -name '*.cc' -o -name '*.h' 2>/dev/null | sort)
[ -n "$files" ] || exit 0
# shellcheck disable=SC2086
clang-format --dry-run --Werror $files
echo "check-format: $(wc -w <<<"$files") files formatted"
