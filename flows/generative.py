"""Generative branch: VAE, DCGAN with and without replay, conditional GAN."""

from __future__ import annotations

from flows.parts import PartRuns
from flows.representation import refreshed
from genlab.config import Profile
from tasks.generative import (
    evaluate_generator,
    measure_reference_distances,
    plot_cgan_classes,
    plot_gan_samples,
    plot_vae,
    train_cgan,
    train_dcgan,
    train_evaluation_classifier,
    train_vae,
)
from tasks.report import summarize_generative
from tasks.storage import FileRef

EVALUATION_SEED = 0
GENERATOR_SEED = 0
MEASURE_SEED = 1  # latent draws for measuring differ from those in the grids
CGAN_IMAGES_PER_CLASS = 8


def generative_models(
    data: FileRef,
    profile: Profile,
    artifacts_dir: str,
    output_dir: str,
    refresh: bool = False,
) -> PartRuns:
    """Submit training, measuring and drawing of every generator.

    Every training task is submitted before any result is awaited, so a task
    runner with several workers (threads or Dask) trains them concurrently.
    """
    settings = profile.generative
    measure = settings.measure

    evaluator = refreshed(train_evaluation_classifier, refresh).submit(
        data, measure, EVALUATION_SEED, artifacts_dir
    )
    references = refreshed(measure_reference_distances, refresh).submit(
        data, evaluator, measure, EVALUATION_SEED
    )
    trained = {
        "vae": refreshed(train_vae, refresh).submit(
            data, settings.vae, GENERATOR_SEED, artifacts_dir
        ),
        "cgan": refreshed(train_cgan, refresh).submit(
            data, settings.cgan, GENERATOR_SEED, artifacts_dir, output_dir
        ),
    }
    dcgan_configs = {"dcgan": settings.dcgan, "dcgan_replay": settings.replay_dcgan()}
    trained_seeds = {
        name: [
            refreshed(train_dcgan, refresh).submit(
                data,
                config,
                seed,
                settings.gan_train_limit,
                name,
                artifacts_dir,
                output_dir,
            )
            for seed in range(settings.gan_seeds)
        ]
        for name, config in dcgan_configs.items()
    }

    measured = {
        name: refreshed(evaluate_generator, refresh).submit(
            data, generator, evaluator, measure, MEASURE_SEED
        )
        for name, generator in trained.items()
    }
    measured_seeds = {
        name: [
            refreshed(evaluate_generator, refresh).submit(
                data, generator, evaluator, measure, MEASURE_SEED
            )
            for generator in generators
        ]
        for name, generators in trained_seeds.items()
    }
    pictures = {
        "vae": refreshed(plot_vae, refresh).submit(
            data, trained["vae"], measure, output_dir
        ),
        "cgan_classes": refreshed(plot_cgan_classes, refresh).submit(
            data, trained["cgan"], CGAN_IMAGES_PER_CLASS, output_dir
        ),
    }
    for name, generators in trained_seeds.items():
        pictures[f"{name}_samples"] = refreshed(plot_gan_samples, refresh).submit(
            generators[0], name, measure, output_dir
        )

    rows = summarize_generative.submit(evaluator, references, measured, measured_seeds)
    models = {"evaluation_classifier": evaluator, **trained}
    for name, generators in trained_seeds.items():
        for seed, generator in enumerate(generators):
            models[f"{name}_seed{seed}"] = generator
            pictures[f"{name}_seed{seed}"] = generator
    pictures["cgan"] = trained["cgan"]
    return PartRuns(rows=rows, pictures=pictures, models=models)
