#!/usr/bin/env bash
# One-time Google Cloud set-up for the salary pipeline: APIs, the two buckets, the Artifact Registry
# repository, three service accounts with least privilege, and (dev) the Cloud Build trigger on main.
#
#   scripts/gcp_setup.sh --project P --region R --github-owner O --github-repo N
#                        [--bucket B] [--pipeline-root-bucket B2] [--repository salary] [--bq-dataset D] [--alert-channels C1,C2] [--watch]
#                        [--env dev|prod] [--promoter MEMBER] [--release-from DEV] [--dry-run]
#
# --env: dev (the default) and prod are separate projects; each run labels its buckets and repository env=ENV, and only
# dev gets the push trigger (prod deploys come from the release build). --promoter MEMBER (user:, group: or
# serviceAccount:) may promote models from the dev store to the prod store: read in dev, write in prod.
# --bq-dataset D lets the pipeline train on tables of the BigQuery dataset P:D (data_uri bq://P.D.TABLE):
# it may read that dataset and run query jobs, nothing more.
# --watch sets up watching the served model (docs/watching.md): prediction logs into BigQuery, a daily drift check, an alert.
# --release-from DEV makes this the prod project, released to from the dev project DEV's images (docs/releasing.md):
# the account salary-release, the Kubeflow pipelines repository for templates, and a trigger on tags v*.
# --dry-run prints every command without running it (nothing is looked up either). Rerunning is safe:
# what exists already is kept, and IAM bindings are added only once. docs/permissions.md lists every grant and why.
set -euo pipefail

usage() {
  sed -n '2,19s/^# \{0,1\}//p' "$0"
}

fail_usage() {
  echo "gcp_setup.sh: $1" >&2
  echo "usage: scripts/gcp_setup.sh --project P --region R --github-owner O --github-repo N [--bucket B] [--pipeline-root-bucket B2] [--repository NAME] [--bq-dataset D] [--alert-channels C1,C2] [--watch] [--dry-run] [--env dev|prod] [--promoter MEMBER] [--release-from DEV]" >&2
  exit 2
}

project="" region="" bucket="" pipeline_root_bucket="" repository="salary" github_owner="" github_repo="" bq_dataset="" alert_channels="" dry_run=false watch=false env=dev promoter="" release_from=""
while (($#)); do
  case "$1" in
    --project | --region | --bucket | --pipeline-root-bucket | --repository | --github-owner | --github-repo | --bq-dataset | --alert-channels | --env | --promoter | --release-from)
      (($# >= 2)) || fail_usage "$1 needs a value"
      case "$1" in
        --project) project=$2 ;;
        --region) region=$2 ;;
        --bucket) bucket=$2 ;;
        --pipeline-root-bucket) pipeline_root_bucket=$2 ;;
        --repository) repository=$2 ;;
        --github-owner) github_owner=$2 ;;
        --github-repo) github_repo=$2 ;;
        --alert-channels) alert_channels=$2 ;;
        --bq-dataset) bq_dataset=$2 ;;
        --env) env=$2 ;;
        --promoter) promoter=$2 ;;
        --release-from) release_from=$2 ;;
      esac
      shift 2
      ;;
    --dry-run) dry_run=true; shift ;;
    --watch) watch=true; shift ;;
    -h | --help) usage; exit 0 ;;
    *) fail_usage "unknown argument $1" ;;
  esac
done

[[ -n $project ]] || fail_usage "--project is required"
[[ -n $region ]] || fail_usage "--region is required"
[[ -n $github_owner ]] || fail_usage "--github-owner is required"
[[ -n $github_repo ]] || fail_usage "--github-repo is required"
bucket=${bucket:-$project-salary}
pipeline_root_bucket=${pipeline_root_bucket:-$bucket-pipeline-root}
[[ $project =~ ^[a-z][a-z0-9-]{4,28}[a-z0-9]$ ]] || fail_usage "--project $project is not a project ID"
[[ $region =~ ^[a-z]+-[a-z]+[0-9]+$ ]] || fail_usage "--region $region is not a region such as europe-west1"
[[ $bucket =~ ^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$ ]] || fail_usage "--bucket $bucket is not a bucket name"
[[ $pipeline_root_bucket =~ ^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$ && $pipeline_root_bucket != "$bucket" ]] ||
  fail_usage "--pipeline-root-bucket $pipeline_root_bucket is not a bucket name of its own"
[[ $repository =~ ^[a-z][a-z0-9-]{0,62}$ ]] || fail_usage "--repository $repository is not a repository name"
[[ -z $bq_dataset || $bq_dataset =~ ^[A-Za-z0-9_]{1,1024}$ ]] || fail_usage "--bq-dataset $bq_dataset is not a dataset name"
[[ $env == dev || $env == prod ]] || fail_usage "--env $env is not dev or prod"
[[ -z $promoter || $promoter =~ ^(user|group|serviceAccount):[^[:space:],]+@[^[:space:],]+$ ]] ||
  fail_usage "--promoter $promoter is not a member such as group:NAME@DOMAIN"
[[ -z $release_from || ($release_from =~ ^[a-z][a-z0-9-]{4,28}[a-z0-9]$ && $release_from != "$project") ]] ||
  fail_usage "--release-from $release_from is not a project ID other than --project"
[[ -z $release_from || $env == prod ]] || fail_usage "--release-from needs --env prod (releases go to the prod project)"

builder="salary-builder@$project.iam.gserviceaccount.com"
pipeline="salary-pipeline@$project.iam.gserviceaccount.com"
webapp="salary-webapp@$project.iam.gserviceaccount.com"

# Print the command (--dry-run) or run it.
run() {
  if $dry_run; then
    local quoted
    printf -v quoted '%q ' "$@"
    echo "${quoted% }"
  else
    "$@"
  fi
}

# Run a command that Google documents as eventually consistent, retried with truncated exponential backoff:
# pauses of first, 2*first, 4*first ... seconds (plus jitter), at most `attempts` tries. IAM: grants right after an
# account's creation (https://cloud.google.com/iam/docs/retry-strategy); Monitoring: a policy on a log-based metric
# created moments ago. GCP_SETUP_BACKOFF scales every pause (0 in tests).
retry() {
  local attempts=$1 pause=$2 try=1
  shift 2
  if $dry_run; then
    run "$@"
    return
  fi
  until "$@"; do
    if ((try >= attempts)); then
      echo "gcp_setup.sh: gave up after $attempts tries: $*" >&2
      return 1
    fi
    local wait=$((pause * ${GCP_SETUP_BACKOFF:-1}))
    ((wait > 0)) && wait=$((wait + RANDOM % 2))
    echo "gcp_setup.sh: try $try of $attempts failed; retrying in ${wait}s" >&2
    sleep "$wait"
    pause=$((pause * 2))
    try=$((try + 1))
  done
}

# True when the resource a describe command names exists; a dry run looks nothing up and creates all.
exists() {
  ! $dry_run && "$@" >/dev/null 2>&1
}

# The same for a list command: true when it lists anything.
listed() {
  ! $dry_run && [[ -n $("$@" 2>/dev/null) ]]
}

echo "== APIs" >&2
run gcloud services enable --project "$project" \
  aiplatform.googleapis.com artifactregistry.googleapis.com cloudbuild.googleapis.com \
  cloudresourcemanager.googleapis.com iam.googleapis.com iamcredentials.googleapis.com run.googleapis.com \
  storage.googleapis.com

echo "== Buckets gs://$bucket: models/ (the model store), data/ (training data); gs://$pipeline_root_bucket: run artifacts" >&2
# Vertex AI needs storage.objects.get and .create on the pipeline root's whole bucket (RuntimeConfig.gcsOutputDirectory,
# https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.pipelineJobs#RuntimeConfig), so run
# artifacts get a bucket of their own; managed folders carry their own IAM, so in the other bucket each account gets
# only the prefixes it needs.
for name in "$bucket" "$pipeline_root_bucket"; do
  exists gcloud storage buckets describe "gs://$name" --project "$project" ||
    run gcloud storage buckets create "gs://$name" --project "$project" --location "$region" \
      --uniform-bucket-level-access --public-access-prevention
  run gcloud storage buckets update "gs://$name" --update-labels "app=salary,env=$env"
done
for folder in data models; do
  exists gcloud storage managed-folders describe "gs://$bucket/$folder/" ||
    run gcloud storage managed-folders create "gs://$bucket/$folder/"
done

# Run artifacts are only needed to debug a recent run: they expire after 30 days
# (https://cloud.google.com/storage/docs/lifecycle); the model store's own history is pruned by salary-models prune.
policies="$(cd "$(dirname "$0")" && pwd)/gcp"
run gcloud storage buckets update "gs://$pipeline_root_bucket" --lifecycle-file "$policies/pipeline-root-lifecycle.json"

echo "== Artifact Registry repository $repository in $region" >&2
exists gcloud artifacts repositories describe "$repository" --project "$project" --location "$region" ||
  run gcloud artifacts repositories create "$repository" --project "$project" --location "$region" \
    --repository-format docker --description "Salary pipeline images" --labels "app=salary,env=$env"
# Every build pushes two images: keep the 10 most recent versions of each, delete the rest after 30 days
# (https://cloud.google.com/artifact-registry/docs/repositories/cleanup-policy).
run gcloud artifacts repositories set-cleanup-policies "$repository" --project "$project" --location "$region" \
  --policy "$policies/artifact-cleanup-policy.json" --no-dry-run

echo "== Service accounts" >&2
for account in builder pipeline webapp; do
  exists gcloud iam service-accounts describe "salary-$account@$project.iam.gserviceaccount.com" --project "$project" ||
    run gcloud iam service-accounts create "salary-$account" --project "$project" --display-name "Salary pipeline: $account"
done

# Grants are retried: a service account created moments ago may not be visible to IAM yet.
grant_project() {
  retry 6 1 gcloud projects add-iam-policy-binding "$project" --member "serviceAccount:$1" --role "$2" --condition None --quiet
}
grant_bucket() {
  retry 6 1 gcloud storage buckets add-iam-policy-binding "gs://$1" --member "serviceAccount:$2" --role "$3"
}
grant_folder() {
  local member=$2
  [[ $member == *:* ]] || member="serviceAccount:$member"  # a person or group (--promoter) comes with its kind
  retry 6 1 gcloud storage managed-folders add-iam-policy-binding "gs://$bucket/$1/" --member "$member" --role "$3"
}
grant_account() {
  retry 6 1 gcloud iam service-accounts add-iam-policy-binding "$1" --project "$project" \
    --member "serviceAccount:$2" --role "$3"
}
# A repository of any project (PROJECT REPOSITORY ACCOUNT ROLE); grant_repository: this project's image repository.
grant_repository_of() {
  retry 6 1 gcloud artifacts repositories add-iam-policy-binding "$2" --project "$1" --location "$region" \
    --member "serviceAccount:$3" --role "$4"
}
grant_repository() { grant_repository_of "$project" "$repository" "$1" "$2"; }
# bq add-iam-policy-binding does not take datasets: BigQuery's GRANT ... ON SCHEMA (a dataset) does
# (https://cloud.google.com/bigquery/docs/reference/standard-sql/data-control-language).
grant_dataset() {
  retry 6 1 bq query --project_id "$project" --nouse_legacy_sql "GRANT \`$2\` ON SCHEMA \`$project.$3\` TO \"$1\""
}

# Every grant below has its reason beside it (tests/deploy/test_gcp_setup.py checks).

echo "== Builder $builder: submit pipelines, act as the pipeline and web app accounts, push images, deploy Cloud Run" >&2
# Nothing on the buckets or the project itself: PipelineJob.submit()'s best-effort check of the pipeline root's
# bucket (google-cloud-aiplatform 2.7.0) logs its 403 and submits anyway.
grant_project "$builder" roles/aiplatform.user  # submit pipeline runs (aiplatform.pipelineJobs.create)
grant_project "$builder" roles/run.developer  # deploy new revisions of the Cloud Run service
grant_project "$builder" roles/logging.logWriter  # a build with its own service account must write its own logs
grant_project "$builder" roles/run.invoker  # the rollout's smoke check calls the new revision's tag URL before it takes traffic
grant_account "$pipeline" "$builder" roles/iam.serviceAccountUser  # submit runs that execute as the pipeline account
grant_account "$webapp" "$builder" roles/iam.serviceAccountUser  # deploy the Cloud Run service that runs as the web app account
grant_account "$builder" "$builder" roles/iam.serviceAccountOpenIdTokenCreator  # smoke-target: an ID token for the candidate, on itself only
grant_repository "$builder" roles/artifactregistry.writer  # push the two images to this repository only

echo "== Pipeline $pipeline: run artifacts in gs://$pipeline_root_bucket, read data/, write models/, register models" >&2
grant_project "$pipeline" roles/aiplatform.user  # Vertex ML Metadata of its runs and Model Registry uploads
grant_bucket "$pipeline_root_bucket" "$pipeline" roles/storage.objectUser  # Vertex needs get+create on the pipeline root's bucket
grant_folder data "$pipeline" roles/storage.objectViewer  # read the training data, nothing else there
grant_folder models "$pipeline" roles/storage.objectUser  # publish versions; swapping latest.json also deletes

if [[ -n $bq_dataset ]]; then
  # bq grants on a dataset; see https://cloud.google.com/bigquery/docs/dataset-access-controls and
  # https://cloud.google.com/bigquery/docs/access-control
  echo "== Pipeline $pipeline: query the BigQuery dataset $project:$bq_dataset" >&2
  run gcloud services enable --project "$project" bigquery.googleapis.com
  grant_project "$pipeline" roles/bigquery.jobUser  # run the aggregating queries: jobs belong to a project, not a dataset
  grant_dataset "serviceAccount:$pipeline" roles/bigquery.dataViewer "$bq_dataset"  # read the tables of that dataset only
fi

echo "== Web app $webapp: read models/" >&2
grant_folder models "$webapp" roles/storage.objectViewer  # serve the published models, read-only

# salary-models promote copies a version from the dev store into the prod store, run by a person or group.
if [[ -n $promoter ]]; then
  echo "== Promoter $promoter: promote models from the dev store to the prod store (this is $env)" >&2
  if [[ $env == dev ]]; then
    grant_folder models "$promoter" roles/storage.objectViewer  # read the versions it promotes, nothing else in dev
  else
    grant_folder models "$promoter" roles/storage.objectUser  # write promoted versions and swap latest.json in prod
  fi
fi

if [[ $env == dev ]]; then
  echo "== Cloud Build trigger salary-main: every push to main of github.com/$github_owner/$github_repo" >&2
  exists gcloud builds triggers describe salary-main --project "$project" ||
    run gcloud builds triggers create github --project "$project" --name salary-main \
      --repo-owner "$github_owner" --repo-name "$github_repo" --branch-pattern '^main$' \
      --build-config cloudbuild.yaml --service-account "projects/$project/serviceAccounts/$builder" \
      --substitutions "_REGION=$region,_REPOSITORY=$repository,_BUCKET=$bucket,_PIPELINE_ROOT_BUCKET=$pipeline_root_bucket,_PIPELINE_SA=$pipeline,_WEBAPP_SA=$webapp"
else
  echo "== No push trigger in prod: its deploys come from the release build (cloudbuild-release.yaml)" >&2
fi

echo "== Failure alerts: a log-based metric counting failed runs, and an alert policy on it" >&2
# The pipeline's exit handler (components/report_run.py) prints one JSON line per run; Cloud Logging
# may keep it as jsonPayload or as textPayload, so the filter accepts either.
metric="salary_pipeline_failures"
failure_filter='(jsonPayload.event="salary-pipeline-run-finished" AND jsonPayload.state="FAILED") OR (textPayload:"salary-pipeline-run-finished" AND textPayload:"\"state\": \"FAILED\"")'
run gcloud services enable --project "$project" logging.googleapis.com monitoring.googleapis.com
exists gcloud logging metrics describe "$metric" --project "$project" ||
  run gcloud logging metrics create "$metric" --project "$project" \
    --description "Salary pipeline runs that ended FAILED (the exit handler's log line)" --log-filter "$failure_filter"
# alert_on NAME CONDITION METRIC RESOURCE_TYPE TEXT: an alert policy on a log-based metric, created once; one matching
# line in 5 minutes alerts. The policy as JSON: https://cloud.google.com/sdk/gcloud/reference/monitoring/policies/create
alert_on() {
  local policy
  policy=$(tr -d "\n" <<JSON
{"displayName": "$1", "combiner": "OR",
 "conditions": [{"displayName": "$2",
   "conditionThreshold": {"filter": "metric.type=\"logging.googleapis.com/user/$3\" AND resource.type=\"$4\"",
     "comparison": "COMPARISON_GT", "thresholdValue": 0, "duration": "0s",
     "aggregations": [{"alignmentPeriod": "300s", "perSeriesAligner": "ALIGN_SUM"}]}}],
 "documentation": {"mimeType": "text/markdown",
   "content": "$5"}}
JSON
)
  # Monitoring answers 404 for a user metric created moments ago (for some minutes): retried for up to about 8 minutes.
  listed gcloud monitoring policies list --project "$project" --filter "displayName=\"$1\"" --format 'value(name)' ||
    retry 6 15 gcloud monitoring policies create --project "$project" --policy "$policy" ${alert_channels:+--notification-channels "$alert_channels"}
}
alert_on "Salary pipeline run failed" "A salary-training run ended FAILED" "$metric" ml_job \
  "A salary-training pipeline run failed. Its log line names the failed task and the reason; the served model is unchanged (see salary-models list)."

# ---- Watching the served model (--watch). ----
# The web app writes one JSON line per sampled prediction (PREDICTION_LOG_RATE, cloudbuild.yaml); a sink copies those
# lines into a BigQuery dataset; the Cloud Run job salary-drift (deployed by cloudbuild.yaml on the components image)
# runs `salary-models drift` on the sink's table daily, records the result for the model card and, on drift, prints one
# WARNING line with "event": "model_drift", which a log-based metric counts and an alert policy watches.
setup_watch() {
  local dataset="salary_logs" sink="salary-predictions" metric="salary_model_drift" watcher="salary-watch@$project.iam.gserviceaccount.com"
  local writer table="$project.salary_logs.run_googleapis_com_stdout"
  echo "== Watching: prediction logs -> BigQuery $project:$dataset, daily drift check, alert on drift" >&2
  run gcloud services enable --project "$project" bigquery.googleapis.com cloudscheduler.googleapis.com logging.googleapis.com monitoring.googleapis.com
  exists bq show --project_id "$project" "$project:$dataset" ||
    run bq mk --project_id "$project" --location "$region" --dataset --label app:salary --label "env:$env" --description "Sampled prediction logs of the salary web app" "$project:$dataset"
  # Only the prediction lines of the web app's service; partitioned tables (one table, run_googleapis_com_stdout, a
  # timestamp partition per day: https://cloud.google.com/logging/docs/export/bigquery), so --since prunes partitions.
  exists gcloud logging sinks describe "$sink" --project "$project" ||
    run gcloud logging sinks create "$sink" "bigquery.googleapis.com/projects/$project/datasets/$dataset" --project "$project" \
      --use-partitioned-tables --log-filter 'resource.type="cloud_run_revision" AND resource.labels.service_name="salary-webapp" AND jsonPayload.event="prediction"'
  # The sink writes as its writer identity, which must be allowed to write to the dataset
  # (https://cloud.google.com/logging/docs/export/configure_export_v2#dest-auth); a dry run cannot look it up.
  if $dry_run; then
    writer="serviceAccount:WRITER_IDENTITY_OF_$sink"
  else
    writer=$(gcloud logging sinks describe "$sink" --project "$project" --format 'value(writerIdentity)')
  fi
  grant_dataset "$writer" roles/bigquery.dataEditor "$dataset"  # the sink's writer identity appends log rows to the dataset
  exists gcloud iam service-accounts describe "$watcher" --project "$project" ||
    run gcloud iam service-accounts create salary-watch --project "$project" --display-name "Salary pipeline: drift check"
  grant_project "$watcher" roles/bigquery.jobUser  # the drift check's GROUP BY runs as a query job in the project
  grant_dataset "serviceAccount:$watcher" roles/bigquery.dataViewer "$dataset"  # read the prediction logs, no other dataset
  grant_folder models "$watcher" roles/storage.objectUser  # read manifests, replace drift/<version>.json for the model card
  grant_account "$watcher" "$builder" roles/iam.serviceAccountUser  # cloudbuild.yaml deploys the salary-drift job that runs as the watch account
  grant_project "$watcher" roles/run.invoker  # Cloud Scheduler starts the salary-drift job as this account
  exists gcloud scheduler jobs describe salary-drift-daily --project "$project" --location "$region" ||
    run gcloud scheduler jobs create http salary-drift-daily --project "$project" --location "$region" --schedule "0 6 * * *" \
      --http-method POST --uri "https://run.googleapis.com/v2/projects/$project/locations/$region/jobs/salary-drift:run" \
      --oauth-service-account-email "$watcher"
  exists gcloud logging metrics describe "$metric" --project "$project" ||
    run gcloud logging metrics create "$metric" --project "$project" \
      --description "Drift checks of the served salary model above their threshold (salary-models drift's warning line)" \
      --log-filter 'jsonPayload.event="model_drift" AND severity=WARNING'
  alert_on "Salary model drift" "The years asked drifted from the years trained on" "$metric" cloud_run_job \
    "The daily drift check found the served model's traffic far from its training data. See the model card and run salary-models impact before a rollback or a new version (docs/watching.md)."
  echo "   drift check source: bq://$table" >&2
}
if $watch; then
  setup_watch
fi
# ---- end of watching ----

# ---- Releases to prod (--env prod --release-from DEV). ----
# This project is prod. cloudbuild-release.yaml runs here as salary-release on every tag v*: it copies the tagged
# commit's images from DEV's Docker repository into this project's by digest, uploads the pipeline template to the
# Kubeflow pipelines repository salary-pipelines, rolls the web app out as main's build does, and replaces the
# schedule. The release account gets what main's builder gets for the rollout and the schedule, plus the registries.
setup_release() {
  local releaser="salary-release@$project.iam.gserviceaccount.com" templates="salary-pipelines"
  echo "== Releases from $release_from: $releaser, the template repository $templates, the trigger salary-release" >&2
  exists gcloud artifacts repositories describe "$templates" --project "$project" --location "$region" ||
    run gcloud artifacts repositories create "$templates" --project "$project" --location "$region" \
      --repository-format kfp --description "Salary pipeline templates" --labels "app=salary,env=$env"
  exists gcloud iam service-accounts describe "$releaser" --project "$project" ||
    run gcloud iam service-accounts create salary-release --project "$project" --display-name "Salary pipeline: release"
  grant_project "$releaser" roles/logging.logWriter  # a build with its own service account must write its own logs
  grant_repository_of "$release_from" "$repository" "$releaser" roles/artifactregistry.reader  # promote-images: read dev's images only
  grant_repository "$releaser" roles/artifactregistry.writer  # promote-images: copy the images in, tag them with the release
  grant_repository_of "$project" "$templates" "$releaser" roles/artifactregistry.writer  # upload-template; schedule-pipeline reads it
  grant_project "$releaser" roles/aiplatform.user  # schedule-pipeline: create the schedule, delete the older ones
  grant_account "$pipeline" "$releaser" roles/iam.serviceAccountUser  # schedule runs that execute as the pipeline account
  grant_project "$releaser" roles/run.developer  # ensure-service, deploy-webapp, route-traffic
  grant_account "$webapp" "$releaser" roles/iam.serviceAccountUser  # deploy the service that runs as the web app account
  grant_account "$releaser" "$releaser" roles/iam.serviceAccountOpenIdTokenCreator  # smoke-target: an ID token, on itself only
  grant_project "$releaser" roles/run.invoker  # smoke-webapp calls the candidate revision's tag URL
  exists gcloud builds triggers describe salary-release --project "$project" ||
    run gcloud builds triggers create github --project "$project" --name salary-release \
      --repo-owner "$github_owner" --repo-name "$github_repo" --tag-pattern '^v.*$' \
      --build-config cloudbuild-release.yaml --service-account "projects/$project/serviceAccounts/$releaser" \
      --substitutions "_REGION=$region,_DEV_PROJECT=$release_from,_DEV_REPOSITORY=$repository,_REPOSITORY=$repository,_TEMPLATE_REPOSITORY=$templates,_BUCKET=$bucket,_PIPELINE_ROOT_BUCKET=$pipeline_root_bucket,_PIPELINE_SA=$pipeline,_WEBAPP_SA=$webapp"
}
if [[ -n $release_from ]]; then
  setup_release
fi
# ---- end of releases ----

if [[ $env == dev ]]; then
  echo "== Done. Push to main, or start a build by hand: gcloud builds triggers run salary-main --project $project --branch main" >&2
else
  echo "== Done. Deploy to prod with a release build: push a tag v* (docs/releasing.md)" >&2
fi
