#!/usr/bin/env bash
# Fuzzes the parsers that read outside data, each for a bounded time (issues
# #6 and #9). Builds the libFuzzer targets of tests/fuzz/ with clang
# (-fsanitize=fuzzer,address,undefined; tests/fuzz/CMakeLists.txt, a project
# of its own) into build-fuzz/ -- one build for all of them -- then runs each
# named target for SECONDS over a fresh copy of its seed corpus
# tests/fuzz/corpus/<target>/. Exits non-zero if any target finds a crash, a
# failed check, a leak, a timeout or running out of memory; the input is kept
# as build-fuzz/artifacts/<target>/<kind>-<sha1> (replay:
# build-fuzz/<target>_fuzz FILE).
#
# Targets: admission (AdmissionReviews and the admission policy), kubeconfig,
# manifest (Release manifests: YAML and JSON), push (push-hook payloads),
# watch (watch streams: line splitting and events), termination (Job
# termination messages). No target named: all of them.
#
# Usage: hack/fuzz.sh SECONDS [TARGET...]     (SECONDS per target; default 60)
# Environment: CAIRN_FUZZ_BUILD_DIR (default <repo>/build-fuzz),
#              CAIRN_FUZZ_CXX (default clang++), JOBS (default 2, at most 2).
# ctest runs it as fuzz.<target> (tests/fuzz/tests.cmake); `make fuzz` runs
# every target for FUZZ_SECONDS (default 600) each.
set -euo pipefail

all=(admission kubeconfig manifest push watch termination)
# Longest input per target: reviews and manifests need room, a termination
# message is at most 4 KiB.
declare -A max_len=([admission]=8192 [kubeconfig]=8192 [manifest]=16384 [push]=8192
                    [watch]=16384 [termination]=4096)

secs=${1:-60}
if ! [[ $secs =~ ^[0-9]+$ ]] || ((secs == 0)); then
  echo "usage: $0 SECONDS [TARGET...]   (targets: ${all[*]})" >&2
  exit 2
fi
shift || true
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [[ -n ${max_len[$t]:-} ]] || {
    echo "fuzz: unknown target \"$t\"; the targets are: ${all[*]}" >&2
    exit 2
  }
done
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
build=${CAIRN_FUZZ_BUILD_DIR:-$root/build-fuzz}
jobs=${JOBS:-2}
((jobs >= 1 && jobs <= 2)) || jobs=2

start=$SECONDS
bins=()
for t in "${targets[@]}"; do bins+=("${t}_fuzz"); done
echo "fuzz: building ${bins[*]} in $build"
mkdir -p "$build"
# One build at a time in one build directory (ctest may start several
# fuzz.* tests at once with -j).
exec 9>"$build/.lock"
flock 9
cmake -S "$root/tests/fuzz" -B "$build" -DCMAKE_CXX_COMPILER="${CAIRN_FUZZ_CXX:-clang++}" \
  -DCMAKE_BUILD_TYPE= >"$build/configure.log" 2>&1 || {
  cat "$build/configure.log" >&2
  exit 1
}
cmake --build "$build" -j"$jobs" --target "${bins[@]}"
flock -u 9
echo "fuzz: built in $((SECONDS - start))s"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for t in "${targets[@]}"; do
  run=$build/run/$t
  corpus=$run/corpus
  rm -rf "$run"
  mkdir -p "$corpus" "$run/tmp" "$build/artifacts/$t"
  cp "$root/tests/fuzz/corpus/$t"/* "$corpus"/
  # admission_fuzz's fixture puts its git repositories here (removed by the
  # target at exit, and here on the next run if it crashed).
  echo "fuzz: $t: running for ${secs}s over a copy of tests/fuzz/corpus/$t"
  status=0
  TMPDIR=$run/tmp "$build/${t}_fuzz" -max_total_time="$secs" -rss_limit_mb=2048 -detect_leaks=1 \
    -timeout=20 -max_len="${max_len[$t]}" -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/$t/" "$corpus" 2>"$run/fuzz.log" || status=$?
  # libFuzzer's progress lines, new functions and recommended dictionary are left out.
  grep -vE '^(#[0-9]|[[:space:]]+NEW_FUNC|"|###### )' "$run/fuzz.log" | tail -n 40 >&2 || true
  if ((status != 0)); then
    echo "fuzz: $t: FAILED (exit $status); full log: $run/fuzz.log; inputs: $build/artifacts/$t/" >&2
    failed+=("$t")
  else
    echo "fuzz: $t: ok: no crash, failed check, leak or timeout in ${secs}s;" \
      "corpus grew to $(find "$corpus" -type f | wc -l) inputs"
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]} ($((SECONDS - start))s in all)" >&2
  exit 1
fi
echo "fuzz: ok: ${targets[*]}; $((SECONDS - start))s in all"
