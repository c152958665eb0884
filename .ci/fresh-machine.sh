#!/usr/bin/env bash
# .ci/fresh-machine.sh: runs CI as a bare Debian 12 machine would: debootstraps a minimal
# bookworm into a temporary directory, copies in a clone of the committed HEAD (and
# ../shared beside it), and runs `bash .ci/run` there with CI=true and an empty
# environment, so a missing install step fails here instead of on a new CI machine.
# Uses this machine's apt sources and extra CA certificates (the machine's set-up, not
# the project's). Needs root, debootstrap (installed if missing) and Debian's mirror.
#   bash .ci/fresh-machine.sh [--keep] [--demo]
#   --demo  also run the README's demo command (scripts/demo.sh) first and check /healthz
#   --keep  leave the chroot in place (its path is printed)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KEEP=0
DEMO=0
for a in "$@"; do
  case "$a" in
    --keep) KEEP=1 ;;
    --demo) DEMO=1 ;;
    *) echo "fresh-machine: unknown argument $a" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "fresh-machine: run as root" >&2; exit 1; }
command -v debootstrap >/dev/null ||
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends debootstrap >/dev/null

F=$(mktemp -d /var/tmp/evitrack-fresh.XXXXXX)
MOUNTS=()
cleanup() {
  local i
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount "${MOUNTS[$i]}" 2>/dev/null || umount -l "${MOUNTS[$i]}" || true; done
  if [ "$KEEP" = 0 ]; then rm -rf --one-file-system "$F"; else echo "fresh-machine: chroot kept in $F"; fi
}
trap cleanup EXIT
mnt() { mount "$@"; MOUNTS+=("${@: -1}"); }

START=$(date +%s)
echo "fresh-machine: debootstrap bookworm into $F"
debootstrap --variant=minbase bookworm "$F" http://deb.debian.org/debian >"$F.debootstrap.log" 2>&1 ||
  { tail -n 20 "$F.debootstrap.log"; exit 1; }
rm -f "$F.debootstrap.log"
if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
  cp /etc/apt/sources.list.d/*.sources "$F/etc/apt/sources.list.d/"
  rm -f "$F/etc/apt/sources.list"
fi
mkdir -p "$F/usr/local/share/ca-certificates"
cp /usr/local/share/ca-certificates/*.crt "$F/usr/local/share/ca-certificates/" 2>/dev/null || true
cp /etc/resolv.conf "$F/etc/resolv.conf"
mkdir -p "$F/ci"
git clone -q "$ROOT" "$F/ci/evitrack"
if [ -d "$ROOT/../shared" ]; then cp -a "$(cd "$ROOT/../shared" && pwd -P)" "$F/ci/shared"; fi
mnt -t proc proc "$F/proc"
mnt --bind /dev "$F/dev"
mnt --bind /dev/pts "$F/dev/pts"
mnt -t tmpfs tmpfs "$F/dev/shm"
mnt --bind /sys "$F/sys"

in_chroot() {
  chroot "$F" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root CI=true LANG=C.UTF-8 bash -c "$1" </dev/null
}

if [ "$DEMO" = 1 ]; then
  echo "fresh-machine: README demo command (scripts/demo.sh --port 18080) ($(($(date +%s) - START))s)"
  in_chroot 'cd /ci/evitrack && exec bash scripts/demo.sh --port 18080' >"$F/demo.log" 2>&1 &
  DPID=$!
  for _ in $(seq 1 900); do
    grep -q 'listening on' "$F/demo.log" && break
    kill -0 "$DPID" 2>/dev/null || break
    sleep 1
  done
  health=$(curl -s --max-time 5 http://127.0.0.1:18080/healthz || true)
  kill -INT "$DPID" 2>/dev/null || true
  wait "$DPID" || true
  if [ "$health" != '{"status":"ok"}' ]; then
    echo "fresh-machine: demo did not answer /healthz (got: $health)"; tail -n 30 "$F/demo.log"; exit 1
  fi
  echo "fresh-machine: demo served /healthz ($(($(date +%s) - START))s)"
fi

echo "fresh-machine: bash .ci/run ($(($(date +%s) - START))s)"
rc=0
in_chroot 'cd /ci/evitrack && bash .ci/run' || rc=$?
echo "fresh-machine: .ci/run exited $rc after $(($(date +%s) - START))s in all"
exit "$rc"
