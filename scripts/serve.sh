#!/usr/bin/env bash
# Start a Prefect server and a static server for the artifacts folder, both on
# 127.0.0.1, and stop both on Ctrl-C.
#
#   PREFECT_HOME             Prefect's database and logs (default: ./.prefect)
#   GENLAB_PREFECT_PORT      Prefect server port (default: 4200)
#   GENLAB_ARTIFACTS_PORT    static server port (default: 8765)
#   GENLAB_ARTIFACTS_DIR     folder served (default: ./artifacts)
#
# The database is SQLite under PREFECT_HOME unless
# PREFECT_API_DATABASE_CONNECTION_URL points at PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

export PREFECT_SERVER_ANALYTICS_ENABLED=false
export PREFECT_HOME="${PREFECT_HOME:-$PWD/.prefect}"
prefect_port="${GENLAB_PREFECT_PORT:-4200}"
artifacts_port="${GENLAB_ARTIFACTS_PORT:-8765}"
artifacts_dir="${GENLAB_ARTIFACTS_DIR:-$PWD/artifacts}"
bin="${VENV:-.venv}/bin"
mkdir -p "$artifacts_dir" "$PREFECT_HOME"

"$bin/python" -m http.server --bind 127.0.0.1 "$artifacts_port" \
    --directory "$artifacts_dir" >"$PREFECT_HOME/artifacts-server.log" 2>&1 &
static_pid=$!
trap 'kill "$static_pid" 2>/dev/null || true' EXIT
sleep 1
if ! kill -0 "$static_pid" 2>/dev/null; then
    echo "error: the static server for $artifacts_dir failed to start;" \
        "see $PREFECT_HOME/artifacts-server.log" >&2
    exit 1
fi

echo "dashboard: http://127.0.0.1:$prefect_port"
echo "pictures:  http://127.0.0.1:$artifacts_port (set GENLAB_ARTIFACTS_URL to this)"
"$bin/prefect" server start --host 127.0.0.1 --port "$prefect_port"
