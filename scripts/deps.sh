#!/bin/sh
# Installs the Debian packages quotetape needs to build, test and run,
# but only those that are missing. Used by every Makefile entry point.
set -eu
pkgs="build-essential cmake pkg-config librdkafka-dev libwebsockets-dev
      libsqlite3-dev libcjson-dev libmsgpack-dev gnuplot-nox kcat sqlite3
      python3 openssl clang libclang-rt-14-dev chromium ${QT_EXTRA_PKGS:-}"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "quotetape: installing missing packages:$missing" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
