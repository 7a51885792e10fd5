"""The study flow on a local two-worker Dask cluster, against threads."""

from __future__ import annotations

import pandas as pd
import pytest

from flows.runners import make_task_runner
from flows.study import genlab_study

KEY = ["step", "variant", "metric"]


@pytest.fixture(scope="module")
def summaries(prefect_server, tmp_path_factory):
    """Run the smoke representation part with threads, then with Dask."""
    frames = {}
    for runner in ("thread", "dask"):
        artifacts = tmp_path_factory.mktemp(f"artifacts-{runner}")
        flow = genlab_study.with_options(task_runner=make_task_runner(runner))
        csv_path = flow(
            dataset="fashion_mnist",
            profile="smoke",
            artifacts_dir=str(artifacts),
            parts=("representation",),
        )
        frames[runner] = pd.read_csv(csv_path).sort_values(KEY).reset_index(drop=True)
    return frames


def test_same_rows(summaries):
    assert summaries["dask"][KEY].equals(summaries["thread"][KEY])


def test_same_values(summaries):
    # Both runs train the same seeded models on the same data. The tolerance
    # allows for TensorFlow's thread-order differences in float sums.
    thread, dask = summaries["thread"], summaries["dask"]
    measured = ~thread["metric"].str.contains("seconds") & ~thread[
        "metric"
    ].str.contains("per_second")
    pd.testing.assert_series_equal(
        dask.loc[measured, "value"], thread.loc[measured, "value"], atol=0.02
    )
