#!/bin/sh
# Build a stand-in for the Dockerfiles' base image from Debian's packages, for machines that cannot
# pull it from a registry. Not the official image: Debian bookworm's Python 3.11.2 in /usr, with
# `python` and `pip` on PATH as the official image has them, and the host's extra CA certificates
# trusted (a TLS-inspecting proxy between the build and PyPI). Used by scripts/images.sh only.
# Usage: sh scripts/standin_base.sh ENGINE IMAGE
set -eu
engine=$1
image=$2
command -v mmdebstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap; }
certs=$(mktemp -d)
trap 'rm -rf "$certs"' EXIT
# The host's own additions to its trust store (update-ca-certificates reads this folder).
if [ -d /usr/local/share/ca-certificates ]; then
  find /usr/local/share/ca-certificates -name '*.crt' -exec cp {} "$certs"/ \;
fi
# The official image's pip installs into the system Python; Debian's marks it externally managed.
# mmdebstrap expands "$1" in each hook to the new root itself, hence the single quotes.
# shellcheck disable=SC2016
mmdebstrap --quiet --variant=minbase --format=tar \
  --include=python3,python3-pip,python3-venv,python-is-python3,ca-certificates \
  --customize-hook="cp -r $certs/. \"\$1/usr/local/share/ca-certificates/\"" \
  --customize-hook='chroot "$1" update-ca-certificates --fresh >/dev/null 2>&1' \
  --customize-hook='rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED' \
  --customize-hook='ln -sf /usr/bin/pip3 "$1/usr/local/bin/pip"' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
  bookworm - \
  | "$engine" import --change 'CMD ["python3"]' --change 'ENV LANG=C.UTF-8' - "$image" >/dev/null
