"""Load any genlab generator and draw images from it the same way (pure Keras).

Every generator returns float32 images in [0, 1], shape (n, height, width,
channels), so the measurements and pictures treat them alike.
"""

from __future__ import annotations

import time
from pathlib import Path

import keras
import numpy as np

# Imported for their registration with Keras, so load_model finds the classes.
from genlab.models.cgan import ConditionalGAN
from genlab.models.ddpm import DDPM
from genlab.models.gan import DCGAN
from genlab.models.vae import VAE

GENERATOR_TYPES = (VAE, DCGAN, ConditionalGAN, DDPM)


def load_generator(path: str | Path) -> keras.Model:
    """Load a generator saved as .keras; safe_mode rejects embedded code."""
    model = keras.models.load_model(path, safe_mode=True)
    if not isinstance(model, GENERATOR_TYPES):
        raise ValueError(
            f"{path} contains a {type(model).__name__}, not a genlab generator "
            "(VAE, DCGAN, ConditionalGAN or DDPM)"
        )
    return model


def parse_sampler(sampler: str | None) -> tuple[str, int]:
    """Split a DDPM sampler name: "ancestral" or "ddim_<steps>"."""
    if sampler == "ancestral":
        return "ancestral", 0
    if sampler and sampler.startswith("ddim_") and sampler[5:].isdigit():
        return "ddim", int(sampler[5:])
    raise ValueError(f"unknown sampler {sampler!r}; use 'ancestral' or 'ddim_<steps>'")


def generate_images(
    model: keras.Model,
    n: int,
    seed: int = 0,
    labels: np.ndarray | None = None,
    sampler: str | None = None,
    batch_size: int = 256,
) -> np.ndarray:
    """Draw n images in [0, 1] from any generator.

    labels apply to the conditional GAN only; without them its classes cycle.
    sampler applies to the DDPM only and defaults to DDIM with 50 steps, or
    with T steps for a model of fewer timesteps T.
    """
    if isinstance(model, ConditionalGAN):
        return model.sample(n, seed=seed, labels=labels, batch_size=batch_size)
    if labels is not None:
        raise ValueError(f"{type(model).__name__} is unconditional; drop the labels")
    if isinstance(model, DDPM):
        default = f"ddim_{min(50, model.config.timesteps)}"
        kind, steps = parse_sampler(sampler or default)
        images = []
        # DDPM samplers run the whole chain per call, so batch by hand.
        for start in range(0, n, batch_size):
            count = min(batch_size, n - start)
            batch_seed = seed * 1_000_003 + start
            if kind == "ancestral":
                images.append(model.sample_ddpm(count, seed=batch_seed))
            else:
                images.append(model.sample_ddim(count, steps=steps, seed=batch_seed))
        return np.concatenate(images) if images else np.zeros((0, *model.image_shape))
    return model.sample(n, seed=seed, batch_size=batch_size)


def seconds_per_image(
    model: keras.Model, batch_size: int, sampler: str | None = None, repeats: int = 2
) -> float:
    """Time generation of `batch_size` images after a warm-up batch.

    The warm-up absorbs graph tracing, so the figure is the steady-state cost.
    Returns the median over `repeats` timed batches, divided by the batch size.
    """
    generate_images(model, batch_size, seed=0, sampler=sampler, batch_size=batch_size)
    timings = []
    for repeat in range(repeats):
        started = time.perf_counter()
        generate_images(
            model, batch_size, seed=repeat + 1, sampler=sampler, batch_size=batch_size
        )
        timings.append(time.perf_counter() - started)
    return float(np.median(timings)) / batch_size
