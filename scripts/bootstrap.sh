#!/usr/bin/env bash
# Installs, from Debian's packages, whatever the build, the tests and the demo
# need and this machine lacks. Safe to repeat: with nothing missing it does
# nothing (and needs no network).
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config
  libuv1-dev libpq-dev libsmpp34-dev libinih-dev libcmocka-dev
  postgresql postgresql-client
  clang libclang-rt-dev     # libFuzzer targets, sanitizers
  tzdata procps util-linux  # time zones; pkill; runuser
)

missing=()
for p in "${pkgs[@]}"; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$st" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "bootstrap: installing ${missing[*]}" >&2
  if [[ $(id -u) -ne 0 ]]; then
    echo "bootstrap: these packages are missing and I am not root: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # The postgresql package must not start a system cluster we do not use.
  mkdir -p /etc/postgresql-common
  if [[ ! -e /etc/postgresql-common/createcluster.conf ]] || ! grep -q '^create_main_cluster' /etc/postgresql-common/createcluster.conf; then
    echo 'create_main_cluster = false' >> /etc/postgresql-common/createcluster.conf
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
