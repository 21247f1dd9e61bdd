#!/usr/bin/env bash
# Run the just-built images before anything is pushed (cloudbuild.yaml's run-images step): the components
# image trains and publishes a model with the pipeline's own tasks (compile.py's local run, inside the image),
# then the web app image serves it from a read-only mount as another user: /readyz and a prediction.
# Usage, from the source root: bash scripts/check_images.sh COMPONENTS_IMAGE WEBAPP_IMAGE   (ENGINE=podman: podman)
# The source folder is mounted at its own path, which in Cloud Build is the build's /workspace
# (https://github.com/GoogleCloudPlatform/cloud-builders/issues/323).
set -euo pipefail
components=$1
webapp=$2
engine=${ENGINE:-docker}
cd "$(dirname "$0")/.."
source=$(pwd)
work=$(mktemp -d "$source/.check-images.XXXXXX")
container=""
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  [ -z "$container" ] || "$engine" rm -f "$container" >/dev/null 2>&1 || true
  # The tasks ran as the image's root user; so does this, in Cloud Build and CI.
  rm -rf "$work"
}
trap cleanup EXIT

"$engine" run --rm -v "$source:$source" -w "$source" "$components" \
  python compile.py --output "$work/pipeline.yaml" --model-uri "$work/model-store/salary" --local-root "$work/local-run" --git-commit ""

container=$("$engine" run -d -v "$work/model-store:/srv/model-store:ro" "$webapp")
probe='
import json, urllib.request as u
base = "http://127.0.0.1:8080"
ready = json.load(u.urlopen(base + "/readyz", timeout=5))
request = u.Request(base + "/api/predict", data=b"{\"years_experience\": 5}", headers={"Content-Type": "application/json"})
answer = json.load(u.urlopen(request, timeout=5))
assert answer["model_version"] == ready["model_version"], answer
print("web app image serves version", ready["model_version"], "- salary at 5 years:", round(answer["salary"]))
'
for _ in $(seq 90); do
  if "$engine" exec "$container" python -c "$probe" 2>/dev/null; then
    exit 0
  fi
  sleep 1
done
echo "check_images: the web app image never served the model trained in the components image; its log:" >&2
"$engine" logs "$container" >&2 || true
exit 1
