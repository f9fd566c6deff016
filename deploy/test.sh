#!/usr/bin/env bash
# Installs what is missing, builds with warnings as errors, and runs every test through CTest.
# The test suite starts its own throw-away PostgreSQL cluster on 127.0.0.1 and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
CICLO_CMAKE_ARGS="-DCICLO_WERROR=ON ${CICLO_CMAKE_ARGS:-}" bash deploy/setup.sh
# Test-only clients and peers from the npm registry, exactly as locked.
(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
ctest --test-dir "${CICLO_BUILD_DIR:-build}" --output-on-failure -j2 --timeout 900

# The same suite again under AddressSanitizer and UndefinedBehaviorSanitizer (daemon included).
# CICLO_SKIP_SANITIZERS=1 skips this second pass.
if [ "${CICLO_SKIP_SANITIZERS:-0}" != 1 ]; then
  cmake -S . -B build-sanitize -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCICLO_WERROR=ON -DCICLO_ASAN=ON -DCICLO_UBSAN=ON \
    -DCICLO_BENCH=OFF
  cmake --build build-sanitize -j2
  # Leak checking needs ptrace, which containers often refuse; memory errors and UB stop the run.
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-sanitize --output-on-failure -j2 --timeout 900
fi

# The libFuzzer targets (form bodies, CSV, webhook signatures), 60 s each under ASan and UBSan.
# tests/fuzz/run.sh SECONDS runs them longer.
bash tests/fuzz/run.sh "${CICLO_FUZZ_SECONDS:-60}"
