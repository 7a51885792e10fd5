"""The study flow on a Dask cluster, as an entrypoint for deployments.

GENLAB_DASK_ADDRESS names an existing scheduler (tcp://host:8786); without it,
each flow run starts a local cluster of GENLAB_DASK_WORKERS processes
(default 2).
"""

from __future__ import annotations

import os

from flows.runners import make_task_runner
from flows.study import genlab_study

genlab_study_dask = genlab_study.with_options(
    name="genlab-study-dask",
    task_runner=make_task_runner(
        "dask",
        os.environ.get("GENLAB_DASK_ADDRESS"),
        int(os.environ.get("GENLAB_DASK_WORKERS", "2")),
    ),
)
