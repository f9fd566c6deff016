#!/usr/bin/env bash
# Installs what is missing, builds with warnings as errors, and runs every test through CTest.
# The test suite starts its own throw-away PostgreSQL cluster on 127.0.0.1 and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
CICLO_CMAKE_ARGS="-DCICLO_WERROR=ON ${CICLO_CMAKE_ARGS:-}" bash deploy/setup.sh
# Test-only clients and peers from the npm registry, exactly as locked.
(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
ctest --test-dir "${CICLO_BUILD_DIR:-build}" --output-on-failure -j2 --timeout 900
