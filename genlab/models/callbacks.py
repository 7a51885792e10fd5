"""Keras callbacks for generative models, which keep plotting out of the models."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np


class SampleGridCallback(keras.callbacks.Callback):
    """Save a grid of model.sample(n, seed) after every `every` epochs.

    The same seed is used at each epoch, so the grids show how the images for
    fixed latent vectors change during training. `save_grid(images, path)`
    writes the file, for example a wrapper around `save_image_grid`.
    """

    def __init__(
        self,
        save_grid: Callable[[np.ndarray, Path], None],
        directory: str | Path,
        n: int = 16,
        seed: int = 0,
        every: int = 1,
    ) -> None:
        super().__init__()
        if every < 1:
            raise ValueError(f"every={every} is invalid; use 1 or more epochs")
        self.save_grid = save_grid
        self.directory = Path(directory)
        self.n = n
        self.seed = seed
        self.every = every
        self.saved_paths: list[Path] = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if (epoch + 1) % self.every:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"epoch_{epoch + 1:03d}.png"
        self.save_grid(self.model.sample(self.n, seed=self.seed), path)
        self.saved_paths.append(path)
