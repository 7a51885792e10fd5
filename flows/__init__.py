"""Prefect flows of the genlab study; they only wire tasks together."""

import os

# Set before Prefect is imported anywhere: its server otherwise reports
# telemetry to an outside host.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
