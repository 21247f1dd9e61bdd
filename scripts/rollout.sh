#!/usr/bin/env bash
# The gated Cloud Run rollout of the web app, one stage per build step, run by both Cloud Build configs
# (cloudbuild.yaml on every push to main, cloudbuild-release.yaml on every release tag):
#
#   scripts/rollout.sh ensure-service   create the service on Google's placeholder image when it does not exist yet
#   scripts/rollout.sh deploy IMAGE     deploy IMAGE (@FILE: the one WORKSPACE/FILE names) as a new revision, no traffic,
#                                       under the candidate tag
#   scripts/rollout.sh smoke-target     the service's description and two identity tokens, left in WORKSPACE
#   scripts/rollout.sh smoke            scripts/smoke.py against the candidate tag's URL
#   scripts/rollout.sh route-traffic    move all traffic to the candidate tag (not while nothing is published)
#
# Settings come from the environment (each step sets what its stage uses): SERVICE, REGION, WEBAPP_SA,
# CANDIDATE_TAG, MODEL_URI, PREDICTION_LOG_RATE; WORKSPACE (default /workspace) carries files between stages.
set -euo pipefail

workspace=${WORKSPACE:-/workspace}
stage=${1:-}

case $stage in
  # `--no-traffic` cannot create a service, so the first build creates it on Google's placeholder image
  # (https://github.com/GoogleCloudPlatform/cloud-run-hello); even the first web app revision then takes traffic
  # only after its smoke check.
  ensure-service)
    if ! gcloud run services describe "$SERVICE" --region="$REGION" --format='value(metadata.name)' >/dev/null 2>&1; then
      gcloud run deploy "$SERVICE" --image=us-docker.pkg.dev/cloudrun/container/placeholder --region="$REGION" \
        --service-account="$WEBAPP_SA" --quiet
    fi
    ;;
  deploy)
    (($# == 2)) || { echo "usage: rollout.sh deploy IMAGE|@FILE" >&2; exit 2; }
    image=$2
    # @FILE: the image a promotion step wrote into WORKSPACE/FILE (cloudbuild-release.yaml's promoted digest).
    if [[ $image == @* ]]; then image=$(<"$workspace/${image#@}"); fi
    # Sized to webapp/gunicorn.conf.py (docs/performance.md, "Sizing on Cloud Run"): one vCPU per gevent worker;
    # 40 requests in flight keep queueing inside an instance near the measured p99 before Cloud Run adds instances
    # (https://cloud.google.com/run/docs/about-concurrency); 2 vCPU admit 512 MiB to 8 GiB
    # (https://cloud.google.com/run/docs/configuring/services/cpu).
    gcloud run deploy "$SERVICE" --image="$image" --region="$REGION" --service-account="$WEBAPP_SA" \
      --set-env-vars="MODEL_URI=$MODEL_URI,PREDICTION_LOG_RATE=$PREDICTION_LOG_RATE" --port=8080 \
      --cpu=2 --memory=1Gi --concurrency=40 --no-traffic --tag="$CANDIDATE_TAG" --quiet
    ;;
  # Google documents the service URL as a token's audience; the requests go to the tag's URL, so a second token has
  # that as its audience, for the smoke client's one retry after a 401. The build's account needs
  # iam.serviceAccounts.getOpenIdToken on itself (docs/permissions.md, `smoke-target`).
  smoke-target)
    gcloud run services describe "$SERVICE" --region="$REGION" --format=json >"$workspace/service.json"
    url=$(gcloud run services describe "$SERVICE" --region="$REGION" --format='value(status.url)')
    tag_url=$(python3 -c 'import json, sys; sys.path.insert(0, "scripts"); import smoke; print(smoke.tag_url(json.load(open(sys.argv[1])), sys.argv[2]))' "$workspace/service.json" "$CANDIDATE_TAG")
    gcloud auth print-identity-token --audiences="$url" >"$workspace/smoke-id-token"
    gcloud auth print-identity-token --audiences="$tag_url" >"$workspace/smoke-tag-id-token"
    ;;
  # /ready 200, the API's own examples answered as /openapi.json says, the model version named. A failure fails the
  # build; traffic stays where it was. On an empty model store the app answers "no model has been published yet"
  # (exit 3): the build stays green and leaves traffic where it is (route-traffic).
  smoke)
    status=0
    SMOKE_ID_TOKEN=$(cat "$workspace/smoke-id-token") SMOKE_TAG_ID_TOKEN=$(cat "$workspace/smoke-tag-id-token") \
      python3 scripts/smoke.py --service-json="$workspace/service.json" --tag="$CANDIDATE_TAG" || status=$?
    if [ "$status" = 3 ]; then
      touch "$workspace/nothing-published"
    elif [ "$status" != 0 ]; then
      exit "$status"
    fi
    ;;
  route-traffic)
    if [ -e "$workspace/nothing-published" ]; then
      echo "No model is published yet: traffic stays where it is. Once a pipeline run publishes the first model,"
      echo "the next build moves traffic, or now: gcloud run services update-traffic $SERVICE --region=$REGION --to-tags=$CANDIDATE_TAG=100"
      exit 0
    fi
    gcloud run services update-traffic "$SERVICE" --region="$REGION" --to-tags="$CANDIDATE_TAG=100"
    ;;
  *)
    echo "usage: rollout.sh ensure-service | deploy IMAGE|@FILE | smoke-target | smoke | route-traffic" >&2
    exit 2
    ;;
esac
