"""The whole genlab study as one Prefect flow."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner

from flows.representation import refreshed, representation_learning
from genlab.config import get_profile
from tasks.data import prepare_dataset
from tasks.report import publish_summary

DatasetName = Literal["cifar10", "fashion_mnist", "mnist"]
ProfileName = Literal["smoke", "quick", "full"]
Part = Literal["representation"]
ALL_PARTS: tuple[Part, ...] = ("representation",)


def run_output_dir(artifacts_dir: str, dataset: str, profile: str) -> str:
    """Return the folder of one study's pictures and summary files."""
    return str(Path(artifacts_dir) / f"{dataset}-{profile}")


@flow(
    name="genlab-study",
    # Two workers match the two cores the project is sized for; TensorFlow
    # already spreads each training step over every core.
    task_runner=ThreadPoolTaskRunner(max_workers=2),
)
def genlab_study(
    dataset: DatasetName = "cifar10",
    profile: ProfileName = "quick",
    data_dir: str | None = None,
    artifacts_dir: str = "artifacts",
    seeds: int | None = None,
    refresh: bool = False,
    parts: tuple[Part, ...] = ALL_PARTS,
) -> str:
    """Run the study's parts on one dataset and return the summary CSV's path."""
    settings = get_profile(profile).with_seeds(seeds)
    artifacts = str(Path(artifacts_dir).resolve())
    output_dir = run_output_dir(artifacts, dataset, profile)
    data = refreshed(prepare_dataset, refresh)(
        dataset, data_dir, settings.train_limit, settings.test_limit, artifacts
    )

    results = []
    if "representation" in parts:
        results.append(
            representation_learning(data, settings, artifacts, output_dir, refresh)
        )

    return publish_summary(
        [row for result in results for row in result["rows"]],
        {name: ref for result in results for name, ref in result["pictures"].items()},
        {name: ref for result in results for name, ref in result["models"].items()},
        output_dir,
        f"genlab study: {dataset}, {profile} profile",
    )
