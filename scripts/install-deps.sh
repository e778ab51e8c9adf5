#!/usr/bin/env bash
# Installs the Debian packages that the build, the tests and the benchmarks need.
# Idempotent: does nothing (and touches no network) when everything is already there.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config scdoc libsystemd-dev
  libuv1-dev libssl-dev libyaml-dev zlib1g-dev libzstd-dev
  libcmocka-dev libmicrohttpd-dev libjansson-dev
  libmariadb-dev mariadb-server mariadb-client mariadb-test
  sysbench haproxy
  python3-pymysql python3-mysqldb python3-pytest python3-cryptography
  libdbd-mysql-perl golang-go golang-github-go-sql-driver-mysql-dev
  chromium prometheus
  debhelper dpkg-dev fakeroot
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive

# The package lists are refreshed once per machine (or when they are absent);
# a second run of this script on a prepared machine does not reach the network.
stamp=/var/lib/apt/lists/.mymux-apt-updated
if [ ! -e "$stamp" ] || ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
  $SUDO apt-get update -q
  $SUDO touch "$stamp" 2>/dev/null || true
fi

# mariadb-server's postinst tries to start a system service; no service manager
# is needed (the test bed starts its own servers), so keep it from starting one.
policy_rc=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy_rc" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy_rc" >/dev/null
  $SUDO chmod +x "$policy_rc"
  created_policy=1
fi
cleanup() { if [ "$created_policy" = 1 ]; then $SUDO rm -f "$policy_rc"; fi; }
trap cleanup EXIT

if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"; then
  # A stale package list (mirror moved on) is the usual cause: refresh and retry once.
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
echo "install-deps: done"
