#!/usr/bin/env bash
# make demo-gcs: the whole product on a local GCS API server (fake-gcs-server on 127.0.0.1):
# train through the local run into gs://, then serve the web app from gs://.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-.venv/bin}
GCS_PORT=${GCS_PORT:-4443}
BUCKET=${BUCKET:-salary-demo}
# The same place in the bucket as a cloud run publishes to (salary/defaults.py).
MODEL_URI=$("$BIN/python" -c 'import sys; from salary.defaults import cloud_model_uri; print(cloud_model_uri(sys.argv[1]))' "$BUCKET")

"$BIN/python" -m scripts.fake_gcs --port "$GCS_PORT" --bucket "$BUCKET" &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
export STORAGE_EMULATOR_HOST="http://127.0.0.1:${GCS_PORT}"
for _ in $(seq 100); do
  "$BIN/python" -c "import urllib.request; urllib.request.urlopen('${STORAGE_EMULATOR_HOST}/storage/v1/b/${BUCKET}', timeout=1)" 2>/dev/null && break
  kill -0 "$server" 2>/dev/null || { echo "fake-gcs-server did not start" >&2; exit 1; }
  sleep 0.2
done

"$BIN/python" compile.py --model-uri "$MODEL_URI" --publish-to-gcs
echo "serving ${MODEL_URI} on http://127.0.0.1:${PORT:-8080} (STORAGE_EMULATOR_HOST=${STORAGE_EMULATOR_HOST})"
MODEL_URI="$MODEL_URI" "$BIN/gunicorn" --config webapp/gunicorn.conf.py 'webapp:create_app()'
