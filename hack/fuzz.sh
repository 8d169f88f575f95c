#!/usr/bin/env bash
# Fuzzes AdmissionReview parsing and the admission policy for a bounded time
# (issue #6): builds tests/fuzz/admission_fuzz.cc with clang and libFuzzer
# (-fsanitize=fuzzer,address,undefined; tests/fuzz/CMakeLists.txt, a project
# of its own) into build-fuzz/, then runs it over a fresh copy of the seed
# corpus tests/fuzz/corpus/. Exits non-zero on a crash, a failed check, a
# leak, a timeout or running out of memory; the input is kept as
# build-fuzz/artifacts/<kind>-<sha1> (replay: build-fuzz/admission_fuzz FILE).
#
# Usage: hack/fuzz.sh [SECONDS]        (default 60)
# Environment: CAIRN_FUZZ_BUILD_DIR (default <repo>/build-fuzz),
#              CAIRN_FUZZ_CXX (default clang++), JOBS (default 2, at most 2).
# ctest runs it as fuzz.admission (tests/fuzz/tests.cmake).
set -euo pipefail

secs=${1:-60}
if ! [[ $secs =~ ^[0-9]+$ ]] || ((secs == 0)); then
  echo "usage: $0 [SECONDS]" >&2
  exit 2
fi
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
build=${CAIRN_FUZZ_BUILD_DIR:-$root/build-fuzz}
jobs=${JOBS:-2}
((jobs >= 1 && jobs <= 2)) || jobs=2

start=$SECONDS
echo "fuzz: building $build/admission_fuzz"
mkdir -p "$build"
cmake -S "$root/tests/fuzz" -B "$build" -DCMAKE_CXX_COMPILER="${CAIRN_FUZZ_CXX:-clang++}" \
  -DCMAKE_BUILD_TYPE= >"$build/configure.log" 2>&1 || {
  cat "$build/configure.log" >&2
  exit 1
}
cmake --build "$build" -j"$jobs" --target admission_fuzz
echo "fuzz: built in $((SECONDS - start))s"

corpus=$build/corpus
rm -rf "$corpus" "$build/tmp"
mkdir -p "$corpus" "$build/artifacts" "$build/tmp"
cp "$root"/tests/fuzz/corpus/* "$corpus"/
# The fixture's git repositories go here (removed by the target at exit, and
# here on the next run if it crashed).
export TMPDIR=$build/tmp
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

echo "fuzz: running for ${secs}s over a copy of tests/fuzz/corpus"
status=0
"$build/admission_fuzz" -max_total_time="$secs" -rss_limit_mb=2048 -detect_leaks=1 \
  -timeout=20 -max_len=8192 -print_final_stats=1 -artifact_prefix="$build/artifacts/" \
  "$corpus" 2>"$build/fuzz.log" || status=$?
# libFuzzer's progress lines, new functions and recommended dictionary are left out.
grep -vE '^(#[0-9]|[[:space:]]+NEW_FUNC|"|###### )' "$build/fuzz.log" | tail -n 80 >&2 || true
if ((status != 0)); then
  echo "fuzz: FAILED (exit $status) after $((SECONDS - start))s; full log: $build/fuzz.log;" \
    "inputs: $build/artifacts/" >&2
  exit 1
fi
echo "fuzz: ok: no crash, leak or timeout in ${secs}s; corpus grew to $(find "$corpus" -type f | wc -l)" \
  "inputs; $((SECONDS - start))s in all"
