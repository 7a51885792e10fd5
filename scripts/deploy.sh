#!/usr/bin/env bash
# Deploy every deployment in prefect.yaml to the server at PREFECT_API_URL and
# start a process worker on the genlab-process pool. Ctrl-C stops it; Prefect
# 3.9 may need a second Ctrl-C while a flow run is in progress.
set -euo pipefail
cd "$(dirname "$0")/.."

export PREFECT_SERVER_ANALYTICS_ENABLED=false
export PREFECT_HOME="${PREFECT_HOME:-$PWD/.prefect}"
export PREFECT_API_URL="${PREFECT_API_URL:-http://127.0.0.1:4200/api}"
export GENLAB_ROOT="$PWD"
export GENLAB_ARTIFACTS_URL="${GENLAB_ARTIFACTS_URL:-http://127.0.0.1:8765}"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
bin="${VENV:-.venv}/bin"

for pool in genlab-process genlab-gpu; do
    "$bin/prefect" work-pool inspect "$pool" >/dev/null 2>&1 \
        || "$bin/prefect" work-pool create "$pool" --type process
done
"$bin/prefect" --no-prompt deploy --all
exec "$bin/prefect" worker start --pool genlab-process ${GENLAB_WORKER_ARGS:-}
