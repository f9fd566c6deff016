#!/usr/bin/env bash
# Installs what is missing, builds, and runs ciclod in the foreground on config/ciclo.yaml
# (SQLite under var/, 127.0.0.1:8080). Stop it with Ctrl-C (SIGINT) or SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/setup.sh
exec "${CICLO_BUILD_DIR:-build}/ciclod" --config config/ciclo.yaml "$@"
