"""Diffusion tasks: the DDPM trained here, and KerasCV Stable Diffusion.

TensorFlow, the Keras models and matplotlib are imported inside the tasks, so
that a run whose tasks are all cached never loads them.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from genlab import stable_diffusion
from genlab.config import DiffusionConfig
from genlab.data import load_dataset_npz
from genlab.model_configs import DDPMConfig
from tasks.generative import model_path, train_and_save
from tasks.imports import heavy_imports, import_tensorflow
from tasks.storage import CACHED_TASK_OPTIONS, FileRef, write_atomic


@task(name="train-ddpm", **CACHED_TASK_OPTIONS)
def train_ddpm(
    data: FileRef, config: DDPMConfig, seed: int, artifacts_dir: str
) -> dict:
    """Train the DDPM's noise-prediction U-Net on the training split."""
    with heavy_imports():
        from genlab.models.ddpm import build_ddpm, training_dataset

    dataset = load_dataset_npz(data["path"])
    model = build_ddpm(dataset.image_shape, config, seed=seed)
    batches = training_dataset(dataset.x_train, config, seed=seed)
    path = model_path(artifacts_dir, dataset, "ddpm", config, data["sha256"], seed)
    return train_and_save(model, batches, config.epochs, "ddpm", path, artifacts_dir)


@task(name="plot-ddpm", **CACHED_TASK_OPTIONS)
def plot_ddpm(
    generator: dict,
    samplers: tuple[str, ...],
    grid_images: int,
    strip_frames: int,
    output_dir: str,
) -> dict:
    """Save a sample grid per sampler and a denoising strip from x_T to x_0."""
    with heavy_imports():
        from genlab.generators import load_generator, parse_sampler
        from genlab.plots import save_rows_figure
        from genlab.plots_generative import save_image_grid

    model = load_generator(generator["model"]["path"])
    output = Path(output_dir)
    refs = {}
    for sampler in samplers:
        kind, steps = parse_sampler(sampler)
        if kind == "ancestral":
            images = model.sample_ddpm(grid_images, seed=0)
        else:
            images = model.sample_ddim(grid_images, steps=steps, seed=0)
        refs[f"ddpm_{sampler}"] = write_atomic(
            output / f"ddpm_{sampler}_samples.png",
            lambda temporary, images=images: save_image_grid(images, temporary, rows=8),
        )

    # Four chains, each row going from pure noise (x_T) to the image (x_0).
    steps = min(50, model.config.timesteps)
    _, frames = model.sample_ddim(4, steps=steps, seed=0, frames=strip_frames)
    rows = [frames[:, chain] for chain in range(frames.shape[1])]
    refs["ddpm_denoising_strip"] = write_atomic(
        output / "ddpm_denoising_strip.png",
        lambda temporary: save_rows_figure(
            rows,
            [f"chain {chain + 1}" for chain in range(len(rows))],
            temporary,
            title=f"DDIM ({steps} steps): x_T on the left to x_0 on the right",
        ),
    )
    return refs


@task(name="check-stable-diffusion", cache_policy=NO_CACHE)
def check_stable_diffusion(config: DiffusionConfig) -> str | None:
    """Return why Stable Diffusion cannot run, or None when it can.

    In "auto" mode, missing weights are downloaded first where a network
    exists. Not cached, because a skip for lack of network must not outlive
    the missing network.
    """
    logger = get_run_logger()
    if config.stable_diffusion == "off":
        return "turned off (run with --stable-diffusion auto or random)"
    if config.stable_diffusion == "random" or stable_diffusion.weights_available():
        return None
    try:
        # Offline, the host lookup fails before Keras is imported, so a cached
        # rerun without a network never loads TensorFlow.
        stable_diffusion.resolve_download_hosts()
        import_tensorflow()
        stable_diffusion.download_weights()
    except Exception as error:  # noqa: BLE001 - any download failure means skip
        reason = (
            f"weights missing from {stable_diffusion.keras_cache_dir()} and the "
            f"download failed ({type(error).__name__}: {str(error)[:160]}); "
            "connect to a network and rerun, or pass --stable-diffusion random "
            "to run the pipeline on untrained weights"
        )
        logger.warning("Stable Diffusion skipped: %s", reason)
        return reason
    return None


@task(name="render-stable-diffusion", **CACHED_TASK_OPTIONS)
def render_stable_diffusion(config: DiffusionConfig, output_dir: str) -> dict:
    """Render the prompt with KerasCV Stable Diffusion; time it.

    Run check_stable_diffusion first: this task expects the weights in place,
    or the "random" mode.
    """
    with heavy_imports():
        from genlab.plots_generative import save_image_grid

    logger = get_run_logger()
    random_weights = config.stable_diffusion == "random"
    started = time.perf_counter()
    images, timings = stable_diffusion.render_prompt(
        config.prompt,
        seed=config.sd_seed,
        steps=config.sd_steps,
        image_size=config.sd_image_size,
        batch_size=config.sd_batch_size,
        random_weights=random_weights,
    )
    seconds = time.perf_counter() - started
    logger.info(
        "Stable Diffusion: %.2f s per step, peak memory %.0f MiB",
        timings["seconds_per_step"],
        timings["peak_rss_mib"],
    )
    slug = "random-weights" if random_weights else "pretrained"
    refs = {}
    for index, image in enumerate(images):
        refs[f"stable_diffusion_{index}"] = write_atomic(
            Path(output_dir) / f"stable_diffusion_{slug}_{index}.png",
            lambda temporary, image=image: save_image_grid(
                image[np.newaxis], temporary, rows=1, titles=[config.prompt]
            ),
        )
    return {
        "pictures": refs,
        "random_weights": random_weights,
        "timings": timings,
        "seconds": seconds,
    }
