#!/usr/bin/env bash
# The whole test suite: installs the packages, builds mymux twice (normal and
# AddressSanitizer + UndefinedBehaviorSanitizer), runs the unit tests (ctest)
# and the integration tests (pytest, real MariaDB servers) against both builds.
# Exits non-zero if any step fails; the last line is a summary.
#
# Environment: JOBS (parallel build jobs, default: number of cores),
#              PYTEST_ARGS (extra arguments for pytest, e.g. "-k kill -x").
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOBS=${JOBS:-$(nproc)}
PYTHON=/usr/bin/python3   # Debian's: it has pymysql and pytest (a python3 on PATH may not)

declare -a RESULTS=()
FAILED=0
T0=$(date +%s)

# step NAME COMMAND...: runs a step, records PASS/FAIL with its duration.
step() {
  local name=$1; shift
  local t=$(date +%s)
  echo
  echo "==== $name"
  if "$@"; then
    RESULTS+=("PASS $name ($(( $(date +%s) - t ))s)")
    return 0
  else
    RESULTS+=("FAIL $name ($(( $(date +%s) - t ))s)")
    FAILED=1
    return 1
  fi
}

skip() { RESULTS+=("SKIP $1 ($2)"); FAILED=1; }

summary() {
  echo
  echo "==== summary"
  local r
  for r in "${RESULTS[@]}"; do echo "  $r"; done
  local total=$(( $(date +%s) - T0 ))
  if [ "$FAILED" = 0 ]; then
    echo "test.sh: ALL PASSED (${#RESULTS[@]} steps, ${total}s)"
  else
    echo "test.sh: FAILED ($(printf '%s\n' "${RESULTS[@]}" | grep -c -v '^PASS') of ${#RESULTS[@]} steps not passed, ${total}s)"
  fi
}
trap summary EXIT

step "install dependencies" ./scripts/install-deps.sh || exit 1

build() {  # build DIR CMAKE_ARGS...
  local dir=$1; shift
  cmake -S "$ROOT" -B "$ROOT/$dir" "$@" && cmake --build "$ROOT/$dir" -j "$JOBS"
}

SAN_ENV=(ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
         UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1)

integration() {  # integration BINARY [env...]
  local bin=$1; shift
  env "$@" MYMUX_BIN="$bin" timeout --signal=INT --kill-after=60 2400 \
    "$PYTHON" -m pytest "$ROOT/tests/integration" -q -p no:cacheprovider -rfEs \
    ${PYTEST_ARGS:-}
}

unit() {  # unit DIR [env...]
  local dir=$1; shift
  (cd "$ROOT/$dir" && env "$@" ctest --output-on-failure --timeout 300 -j "$JOBS")
}

if step "build (RelWithDebInfo)" build build -DCMAKE_BUILD_TYPE=RelWithDebInfo; then
  step "unit tests (build)" unit build
  step "integration tests (build/mymux)" integration "$ROOT/build/mymux"
else
  skip "unit tests (build)" "build failed"
  skip "integration tests (build/mymux)" "build failed"
fi

if step "build (ASan+UBSan, Debug)" build build-asan -DMYMUX_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug; then
  step "unit tests (build-asan)" unit build-asan "${SAN_ENV[@]}"
  step "integration tests (build-asan/mymux)" integration "$ROOT/build-asan/mymux" "${SAN_ENV[@]}"
else
  skip "unit tests (build-asan)" "build failed"
  skip "integration tests (build-asan/mymux)" "build failed"
fi

exit "$FAILED"
