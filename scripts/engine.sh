#!/usr/bin/env bash
# Find a container engine that runs here and the settings it needs; write them to .containers/engine.env.
# docker when its daemon answers; otherwise podman (installed from Debian's packages when neither is
# there). Podman's quirks on a given host (ulimits a sandbox will not raise, an OCI runtime that cannot
# handle its cgroup layout) are found by trying, and fixed in a private containers.conf passed through
# CONTAINERS_CONF: the machine's own configuration is never edited.
# Usage: bash scripts/engine.sh PROBE_IMAGE   (an image already present, used to try settings)
set -euo pipefail
probe_image=$1
state="$(pwd)/.containers"
mkdir -p "$state"
conf="$state/containers.conf"

install() {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  printf 'ENGINE=docker\nCONTAINERS_CONF=\n' >"$state/engine.env"
  exit 0
fi
command -v podman >/dev/null || install podman
# What an earlier run found, if it still works.
if grep -qx ENGINE=podman "$state/engine.env" 2>/dev/null && [ -f "$conf" ] \
  && CONTAINERS_CONF="$conf" podman run --rm --network none "$probe_image" true >/dev/null 2>&1; then
  exit 0
fi

# Candidate settings, most default first; the first that runs a container wins.
try() {
  # $1: runtime (empty: podman's default); $2: ulimit lines for containers.conf
  {
    echo "[containers]"
    [ -z "$2" ] || echo "default_ulimits = [$2]"
    echo "[engine]"
    [ -z "$1" ] || echo "runtime = \"$1\""
  } >"$conf"
  CONTAINERS_CONF="$conf" podman run --rm --network none "$probe_image" true >/dev/null 2>&1
}

nofile="\"nofile=$(ulimit -Sn):$(ulimit -Hn)\""
runtimes=""
for runtime in crun runc; do
  command -v "$runtime" >/dev/null && runtimes="$runtimes $runtime"
done
# runc copes with hybrid cgroup v1/v2 hosts, where crun refuses to start.
case "$runtimes" in *runc*) ;; *) install runc && runtimes="$runtimes runc" ;; esac

found=""
for runtime in "" $runtimes; do
  # Podman raises nofile and nproc to its own maximum; a sandbox without CAP_SYS_RESOURCE refuses, and
  # may refuse even the host's own nproc, so halve it until a container starts.
  nproc=$(ulimit -Hu)
  [ "$nproc" = unlimited ] && nproc=4194304
  if try "$runtime" ""; then found=1; break; fi
  while [ "$nproc" -ge 1024 ]; do
    if try "$runtime" "$nofile, \"nproc=$nproc:$nproc\""; then found=1; break 2; fi
    nproc=$((nproc / 2))
  done
done
if [ -z "$found" ]; then
  echo "engine: podman cannot start a container here with any runtime or ulimit tried" >&2
  CONTAINERS_CONF="$conf" podman run --rm "$probe_image" true >&2 || true
  exit 1
fi
printf 'ENGINE=podman\nCONTAINERS_CONF=%s\n' "$conf" >"$state/engine.env"
