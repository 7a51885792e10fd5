"""The whole genlab study as one Prefect flow."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner

from flows.diffusion import diffusion_models
from flows.generative import generative_models
from flows.parts import collect
from flows.representation import refreshed, representation_learning
from genlab.config import Profile, config_digest, get_profile
from tasks.data import prepare_dataset
from tasks.report import publish_summary

DatasetName = Literal["cifar10", "fashion_mnist", "mnist"]
ProfileName = Literal["smoke", "quick", "full"]
StableDiffusionMode = Literal["auto", "random", "off"]
Part = Literal["representation", "generative", "diffusion"]
ALL_PARTS: tuple[Part, ...] = ("representation", "generative", "diffusion")
PART_FUNCTIONS = {
    "representation": representation_learning,
    "generative": generative_models,
    "diffusion": diffusion_models,
}


def run_output_dir(
    artifacts_dir: str, dataset: str, profile: str, settings: Profile | None = None
) -> str:
    """Return the folder of one study's pictures and summary files.

    It is <dataset>-<profile> for the profile as published, with a hash of the
    settings appended when overrides change them, so two runs with different
    parameters never write the same files.
    """
    name = f"{dataset}-{profile}"
    if settings is not None and settings != get_profile(profile):
        name += f"-{config_digest(settings)[:8]}"
    return str(Path(artifacts_dir) / name)


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
    labels: int | None = None,
    autoencoder_epochs: int | None = None,
    refresh: bool = False,
    parts: tuple[Part, ...] = ALL_PARTS,
    stable_diffusion: StableDiffusionMode | None = None,
    prompt: str | None = None,
    sd_image_size: int | None = None,
    artifacts_url: str | None = None,
) -> str:
    """Run the study's parts on one dataset and return the summary CSV's path.

    seeds, labels (the classifiers' label budget), autoencoder_epochs,
    stable_diffusion (auto, random or off), prompt and sd_image_size override
    the profile's values when given. artifacts_url is the base URL of a
    static server for artifacts_dir, so the dashboard can show the pictures.
    """
    settings = get_profile(profile).with_overrides(
        seeds, labels, autoencoder_epochs, stable_diffusion, prompt, sd_image_size
    )
    artifacts = str(Path(artifacts_dir).resolve())
    output_dir = run_output_dir(artifacts, dataset, profile, settings)
    data = refreshed(prepare_dataset, refresh)(
        dataset, data_dir, settings.train_limit, settings.test_limit, artifacts
    )

    # Each part submits all its tasks before anything is awaited, so the task
    # runner can train the parts' models side by side.
    part_runs = [
        part(data, settings, artifacts, output_dir, refresh)
        for name, part in PART_FUNCTIONS.items()
        if name in parts
    ]
    rows, pictures, models = collect(part_runs)
    return publish_summary(
        rows,
        pictures,
        models,
        output_dir,
        f"genlab study: {dataset}, {profile} profile",
        artifacts,
        artifacts_url,
    )
