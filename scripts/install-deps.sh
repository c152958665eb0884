#!/usr/bin/env bash
# scripts/install-deps.sh: installs what evitrack needs to build, run and test on Debian 12,
# skipping anything already there (no apt at all when nothing is missing), then the npm
# test tools (npm ci) when node_modules is missing or older than package-lock.json.
#   bash scripts/install-deps.sh            build + test tools (the default)
#   bash scripts/install-deps.sh --runtime  only what building and serving need
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

RUNTIME=(build-essential cmake pkg-config libmicrohttpd-dev libsqlite3-dev libjansson-dev
  libsodium-dev nettle-dev libdeflate-dev libmagic-dev libarchive-dev libcurl4-openssl-dev libssl-dev libpq-dev postgresql-client-15 sqlite3 openssl ca-certificates tzdata)
# libclang-rt-14-dev: the fuzzer and sanitizer runtimes clang-14 links (not pulled in
# without recommends); fonts-dejavu-extra: the fonts the machines' images have, so page
# layout in the browser tests is the same everywhere.
# ceph-mon ceph-osd radosgw: a one-node Ceph with its S3 gateway for the S3 store tests
# (tests/s3/ceph.sh); the fake S3 servers on npm do not check payload hashes.
# python3-aiosmtpd: the real SMTP server the notification tests deliver to (tests/http/smtp_sink.py).
# postgresql-15: the PostgreSQL schema and backend tests start their own throw-away cluster.
# nginx: tests/http/proxy.test.js runs the proxy set-up of docs/operations.md.
# hey: tests/bench/bench_centre's open-loop latency at a steady offered load (-q).
TESTING=(chromium fonts-dejavu-core fonts-dejavu-extra wrk hey unzip clang-14 libclang-rt-14-dev postgresql-15 nginx python3-aiosmtpd
  ceph-mon ceph-osd radosgw)
want=("${RUNTIME[@]}")
[ "${1:-}" = --runtime ] || want+=("${TESTING[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || missing+=("$p")
done
if [ "${1:-}" != --runtime ]; then
  # Node: any node >= 18 will do (the machine's own, or Debian's nodejs + npm).
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
  # Tools the benchmarks call (tests/bench/upload.sh): any curl and python3 on the PATH.
  command -v curl >/dev/null || missing+=(curl)
  command -v python3 >/dev/null || missing+=(python3)
  # Java runs the Nu HTML checker (tests skip that check without it).
  command -v java >/dev/null || missing+=(default-jre-headless)
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  SUDO=
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: run as root to install: ${missing[*]}" >&2; exit 1; }
    SUDO=sudo
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get -o DPkg::Lock::Timeout=900 update -qq || $SUDO apt-get -o DPkg::Lock::Timeout=900 update -qq
  $SUDO apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "install-deps: system packages already installed"
fi

if [ "${1:-}" != --runtime ]; then
  # npm trusts the system's certificate store too (a machine may add its own CA there).
  if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
  fi
  node_major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$node_major" -ge 18 ] || { echo "install-deps: node $(node --version) is too old (need 18+)" >&2; exit 1; }
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "install-deps: npm ci"
    npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  else
    echo "install-deps: node_modules up to date"
  fi
fi
