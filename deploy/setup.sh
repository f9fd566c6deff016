#!/usr/bin/env bash
# Installs what Ciclo needs to build, run and test on Debian 12, then configures and builds.
# Idempotent: packages already present are not installed again.
#   deploy/setup.sh            build type Release into build/
#   CICLO_BUILD_DIR, CICLO_BUILD_TYPE, CICLO_CMAKE_ARGS override the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates clang-format
  libpoco-dev libyaml-cpp-dev libssl-dev libcurl4-openssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libphonenumber-dev libidn2-dev libjemalloc-dev libkainjow-mustache-dev libhowardhinnant-date-dev
  postgresql sqlite3 wrk curl procps python3 openssl tzdata
  clang-14 libclang-rt-14-dev
  chromium
)
# Node.js runs only test clients; a machine may have it from elsewhere already.
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

build_dir=${CICLO_BUILD_DIR:-build}
build_type=${CICLO_BUILD_TYPE:-Release}
# shellcheck disable=SC2086
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" ${CICLO_CMAKE_ARGS:-}
cmake --build "$build_dir" -j2
