"""Representation learning: the denoising autoencoder and small-label classifiers."""

from __future__ import annotations

from flows.parts import PartRuns
from genlab.config import VARIANTS, Profile
from tasks.autoencoder import plot_coding_neurons, plot_denoising, train_autoencoder
from tasks.classifier import train_classifier
from tasks.report import summarize_representation
from tasks.storage import FileRef

AUTOENCODER_SEED = 0


def refreshed(task_object, refresh: bool):
    """Return the task set to ignore and overwrite its cache when refresh is on."""
    return task_object.with_options(refresh_cache=True) if refresh else task_object


def representation_learning(
    data: FileRef,
    profile: Profile,
    artifacts_dir: str,
    output_dir: str,
    refresh: bool = False,
) -> PartRuns:
    """Submit the autoencoder, its pictures and the small-label classifiers.

    A plain function rather than a subflow, so its tasks run on the calling
    flow's task runner (threads or Dask) next to the other parts' tasks.
    """
    autoencoder = refreshed(train_autoencoder, refresh).submit(
        data, profile.autoencoder, AUTOENCODER_SEED, artifacts_dir
    )
    denoising = refreshed(plot_denoising, refresh).submit(
        data,
        autoencoder,
        profile.autoencoder.noise_stddev,
        profile.pictures,
        AUTOENCODER_SEED,
        output_dir,
    )
    neurons = refreshed(plot_coding_neurons, refresh).submit(
        data, autoencoder, profile.pictures, output_dir
    )
    classifiers = [
        refreshed(train_classifier, refresh).submit(
            data,
            variant,
            seed,
            profile.classifier,
            profile.autoencoder.architecture(),
            autoencoder=None if variant == "scratch" else autoencoder,
            artifacts_dir=artifacts_dir,
        )
        for seed in range(profile.seeds)
        for variant in VARIANTS
    ]
    return PartRuns(
        rows=summarize_representation.submit(autoencoder, classifiers),
        pictures={"denoising": denoising, "coding_neurons": neurons},
        models={"autoencoder": autoencoder},
    )
