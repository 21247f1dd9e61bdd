#!/usr/bin/env bash
# `make images`: build salary-components:dev and salary-webapp:dev from the repository root, with docker,
# or with podman where docker cannot run (scripts/engine.sh), in the docker image format (which keeps the
# web app's HEALTHCHECK). Where the Dockerfiles' base image cannot be pulled, a stand-in is built from
# Debian's packages first (scripts/standin_base.sh; docs/containers.md says what differs).
set -euo pipefail
cd "$(dirname "$0")/.."
base=python:3.11.14-slim-bookworm
tag=${IMAGE_TAG:-dev}

present() {
  "$1" image inspect "$base" >/dev/null 2>&1
}

if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  engine=docker
else
  command -v podman >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman >/dev/null; }
  engine=podman
fi
if ! present "$engine" && ! "$engine" pull -q "docker.io/library/$base" >/dev/null 2>&1; then
  echo "images: $base cannot be pulled here; building a stand-in from Debian's packages (Debian's Python 3.11.2)"
  sh scripts/standin_base.sh "$engine" "$base"
fi
bash scripts/engine.sh "$base"
ENGINE=$(sed -n 's/^ENGINE=//p' .containers/engine.env)
CONTAINERS_CONF=$(sed -n 's/^CONTAINERS_CONF=//p' .containers/engine.env)
export CONTAINERS_CONF
format=()
[ "$ENGINE" = podman ] && format=(--format docker)
# A build whose inputs (the files .dockerignore sends, the Dockerfile, the base image) are unchanged since
# the image was last built here is skipped: even fully cached, the engine rehashes the copied venv (~1 GB).
inputs() {
  # shellcheck disable=SC2046  # the names .dockerignore lets through, globs expanded on purpose
  { find $(sed -n 's/^!//p' .dockerignore) -type f ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 \
      | sort -z | xargs -0 sha256sum
    sha256sum "$1/Dockerfile"
    "$ENGINE" image inspect --format '{{.Id}}' "$base"
  } | sha256sum | cut -d' ' -f1
}
image_id() {
  "$ENGINE" image inspect --format '{{.Id}}' "$1" 2>/dev/null || true
}

# Both at once: much of a cold build is waiting on downloads, and the two share nothing but the base.
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
declare -A pids hashes
for image in components webapp; do
  hashes[$image]=$(inputs "$image")
  stamp=".containers/salary-$image-$tag.inputs"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "${hashes[$image]} $(image_id "salary-$image:$tag")" ]; then
    echo "images: salary-$image:$tag is up to date"
    continue
  fi
  "$ENGINE" build "${format[@]}" --build-arg "BASE=$base" -f "$image/Dockerfile" -t "salary-$image:$tag" . >"$logs/$image" 2>&1 &
  pids[$image]=$!
done
failed=0
for image in "${!pids[@]}"; do
  if wait "${pids[$image]}"; then
    echo "${hashes[$image]} $(image_id "salary-$image:$tag")" >".containers/salary-$image-$tag.inputs"
    echo "images: built salary-$image:$tag with $ENGINE"
  else
    echo "images: building salary-$image:$tag failed:" >&2
    tail -n 40 "$logs/$image" >&2
    failed=1
  fi
done
exit "$failed"
