#!/usr/bin/env bash
# Runs the whole test suite: installs what is missing, builds with
# AddressSanitizer and UndefinedBehaviorSanitizer, runs every test through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/deps.sh
sg_install_deps

# the Debian package builds, installs, runs and removes (issue 11); before the
# tests, so that ctest's summary closes the output
bash tools/package.sh --check

BUILD=${SHEGONG_TEST_BUILD:-build-test}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DSHEGONG_SANITIZE=ON >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$BUILD"
ctest --output-on-failure --timeout 600 "$@"
