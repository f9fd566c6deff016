#!/usr/bin/env bash
# Builds the libFuzzer targets with clang under ASan and UBSan and runs each for a bounded
# time through CTest.   tests/fuzz/run.sh [SECONDS]   (default 60; deploy/test.sh uses it)
# Inputs that crash or break a property are left in build-fuzz/fuzz/<target>/.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
dir=${CICLO_FUZZ_BUILD_DIR:-build-fuzz}
CXX=clang++-14 cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCICLO_WERROR=ON \
  -DCICLO_TESTS=OFF -DCICLO_BENCH=OFF -DCICLO_FUZZ=ON -DCICLO_ASAN=ON -DCICLO_UBSAN=ON \
  -DCICLO_FUZZ_SECONDS="$seconds" >/dev/null
cmake --build "$dir" --target ciclo_fuzzers -j2
ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$dir" --output-on-failure -j2 --timeout $((seconds + 600))
