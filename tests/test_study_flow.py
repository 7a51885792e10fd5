"""The smoke study flow on real Fashion-MNIST under a real Prefect server."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pandas as pd
import pytest
from prefect.client.orchestration import get_client

from flows.study import genlab_study
from genlab.summary import SUMMARY_COLUMNS

TRAINING_TASKS = (
    "prepare-dataset",
    "train-autoencoder",
    "train-classifier",
    "train-evaluation-classifier",
    "train-vae",
    "train-dcgan",
    "train-cgan",
    "train-ddpm",
)


def task_states(flow_run_ids: set, timeout: float = 60) -> dict[str, list[str]]:
    """Map task names to the final state names of their runs in these flow runs.

    Prefect 3 reports task run states as events that the server stores a
    moment later, so this polls until no run is still shown as unfinished.
    """
    deadline = time.monotonic() + timeout
    while True:
        states = read_task_states(flow_run_ids)
        unfinished = {"Pending", "Running", "Scheduled"}
        if time.monotonic() > deadline or not any(
            unfinished & set(names) for names in states.values()
        ):
            return states
        time.sleep(1)


def read_task_states(flow_run_ids: set) -> dict[str, list[str]]:
    """Map task names to the state names of their runs in these flow runs."""
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterParentFlowRunId,
        TaskRunFilter,
        TaskRunFilterFlowRunId,
    )

    states: dict[str, list[str]] = {}
    with get_client(sync_client=True) as client:
        run_ids = set(flow_run_ids)
        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=list(run_ids))
            )
        )
        run_ids |= {child.id for child in children}
        task_runs = client.read_task_runs(
            task_run_filter=TaskRunFilter(
                flow_run_id=TaskRunFilterFlowRunId(any_=list(run_ids))
            )
        )
        for task_run in task_runs:
            name = task_run.name.rsplit("-", 1)[0]
            # A run whose first state event is not stored yet has no state.
            state = task_run.state.name if task_run.state else "Pending"
            states.setdefault(name, []).append(state)
    return states


@pytest.fixture(scope="module")
def smoke_runs(prefect_server, tmp_path_factory):
    artifacts = tmp_path_factory.mktemp("artifacts")
    first = genlab_study(
        dataset="fashion_mnist",
        profile="smoke",
        artifacts_dir=str(artifacts),
        return_state=True,
    )
    first_frame = pd.read_csv(first.result())
    second = genlab_study(
        dataset="fashion_mnist",
        profile="smoke",
        artifacts_dir=str(artifacts),
        return_state=True,
    )
    return artifacts, first, second, first_frame


class TestSmokeStudy:
    def test_first_run_completed(self, smoke_runs):
        _, first, _, _ = smoke_runs
        assert first.is_completed()

    def test_summary_columns(self, smoke_runs):
        _, first, _, _ = smoke_runs
        frame = pd.read_csv(first.result())
        assert tuple(frame.columns) == SUMMARY_COLUMNS

    def test_summary_rows(self, smoke_runs):
        _, first, _, _ = smoke_runs
        frame = pd.read_csv(first.result())
        metrics = set(zip(frame["variant"], frame["metric"], strict=True))
        for expected in [
            ("denoising", "test_mse"),
            ("denoising", "test_bce"),
            ("scratch", "test_accuracy"),
            ("frozen", "test_accuracy"),
            ("fine_tuned", "test_accuracy"),
            ("fine_tuned_vs_scratch", "test_accuracy_paired_t_p_value"),
        ]:
            assert expected in metrics

    def test_generator_rows(self, smoke_runs):
        _, first, _, _ = smoke_runs
        frame = pd.read_csv(first.result())
        metrics = set(zip(frame["variant"], frame["metric"], strict=True))
        for variant in ("vae", "dcgan", "dcgan_replay", "cgan"):
            for metric in (
                "classifier_frechet_distance",
                "class_entropy_normalized",
                "class_coverage",
                "seconds_per_image",
            ):
                assert (variant, metric) in metrics
        for reference in ("real_train", "uniform_noise"):
            assert (reference, "classifier_frechet_distance") in metrics
        assert ("cgan", "conditional_accuracy") in metrics
        assert ("cgan", "conditional_accuracy[Ankle boot]") in metrics
        assert (
            "dcgan_replay_vs_dcgan",
            "classifier_frechet_distance_paired_t_p_value",
        ) in metrics

    def test_dcgan_seeds(self, smoke_runs):
        _, first, _, _ = smoke_runs
        frame = pd.read_csv(first.result())
        dcgan = frame[frame["variant"].isin(["dcgan", "dcgan_replay"])]
        assert set(dcgan["seeds"]) == {2}

    def test_noise_ceiling_above_floor(self, smoke_runs):
        _, first, _, _ = smoke_runs
        frame = pd.read_csv(first.result()).set_index(["variant", "metric"])
        floor = frame.loc[("real_train", "classifier_frechet_distance"), "value"]
        ceiling = frame.loc[("uniform_noise", "classifier_frechet_distance"), "value"]
        assert ceiling > floor

    def test_diffusion_rows(self, smoke_runs):
        _, first, _, _ = smoke_runs
        frame = pd.read_csv(first.result(), keep_default_na=False)
        metrics = set(zip(frame["variant"], frame["metric"], strict=True))
        for sampler in ("ddpm_ancestral", "ddpm_ddim_5"):
            assert (sampler, "classifier_frechet_distance") in metrics
            assert (sampler, "seconds_per_image") in metrics
        skipped = frame[frame["step"] == "stable_diffusion"]
        assert list(skipped["variant"]) == ["skipped"]
        assert "--stable-diffusion" in skipped["note"].iloc[0]

    def test_values_finite(self, smoke_runs):
        _, first, _, _ = smoke_runs
        frame = pd.read_csv(first.result())
        for row in frame.itertuples():
            assert math.isfinite(row.value), f"{row.variant} {row.metric} is not finite"

    def test_accuracies_over_seeds(self, smoke_runs):
        _, first, _, _ = smoke_runs
        frame = pd.read_csv(first.result())
        classifiers = frame[frame["step"].str.startswith("classifier_")]
        accuracies = classifiers[classifiers["metric"] == "test_accuracy"]
        assert len(accuracies) == 3
        assert set(accuracies["seeds"]) == {2}
        assert accuracies["value"].between(0.0, 1.0).all()
        assert accuracies["std"].notna().all()

    def test_pictures_written(self, smoke_runs):
        artifacts, _, _, _ = smoke_runs
        pictures = (
            "denoising.png",
            "coding_neurons.png",
            "vae_samples.png",
            "vae_interpolation.png",
            "dcgan_samples.png",
            "dcgan_replay_samples.png",
            "cgan_classes.png",
            "cgan-seed0-epochs/epoch_001.png",
            "ddpm_ancestral_samples.png",
            "ddpm_denoising_strip.png",
        )
        for name in pictures:
            path = Path(artifacts) / "fashion_mnist-smoke" / name
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name

    def test_markdown_summary(self, smoke_runs):
        artifacts, _, _, _ = smoke_runs
        text = (Path(artifacts) / "fashion_mnist-smoke" / "summary.md").read_text()
        assert "| step | variant | metric |" in text
        assert "denoising.png" in text

    def test_second_run_cached(self, smoke_runs):
        _, _, second, _ = smoke_runs
        states = task_states({second.state_details.flow_run_id})
        for name in TRAINING_TASKS:
            assert states.get(name), f"no {name} task run found"
            assert set(states[name]) == {"Cached"}, f"{name}: {states[name]}"

    def test_second_run_same_summary(self, smoke_runs):
        _, _, second, first_frame = smoke_runs
        pd.testing.assert_frame_equal(first_frame, pd.read_csv(second.result()))

    def test_table_artifact_published(self, smoke_runs):
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

        with get_client(sync_client=True) as client:
            artifacts = client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    key=ArtifactFilterKey(any_=["genlab-summary"])
                )
            )
        assert len(artifacts) >= 2
        assert all(artifact.type == "table" for artifact in artifacts)
