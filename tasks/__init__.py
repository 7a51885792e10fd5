"""Prefect tasks of the genlab study: data preparation, training, pictures, reports.

Tasks exchange small JSON-able dicts; arrays and models travel as file
references (see tasks.storage), never as pickled tensors.
"""

import os

# Prefect's server otherwise reports telemetry to an outside host.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
