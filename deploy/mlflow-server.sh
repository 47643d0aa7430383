#!/bin/bash
# An MLflow tracking server on PostgreSQL, for sweeps on many machines:
#   createdb mlflow && deploy/mlflow-server.sh postgresql+psycopg://user@dbhost/mlflow
# Workers then use --tracking-uri http://THIS_HOST:5000. The password comes from PGPASSWORD
# or ~/.pgpass (libpq), never from the URL.
set -euo pipefail
DB=${1:?usage: deploy/mlflow-server.sh postgresql+psycopg://user@host/mlflow}
exec mlflow server --backend-store-uri "${DB}" --artifacts-destination "${ARTIFACTS:-./mlartifacts}" \
  --host 0.0.0.0 --port "${PORT:-5000}"
