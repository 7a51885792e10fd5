"""Matplotlib figures of the study, written as PNG files (no Prefect)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: the pipeline runs on servers and in workers

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _show(axis, image: np.ndarray) -> None:
    """Draw one image, uint8 or float in [0, 1], grey when single-channel."""
    if image.dtype != np.uint8:
        image = np.clip(image, 0.0, 1.0)
    if image.shape[-1] == 1:
        axis.imshow(
            image[..., 0],
            cmap="gray",
            vmin=0,
            vmax=255 if image.dtype == np.uint8 else 1,
        )
    else:
        axis.imshow(image)
    axis.set_xticks([])
    axis.set_yticks([])


def save_rows_figure(
    rows: Sequence[np.ndarray],
    row_labels: Sequence[str],
    path: str | Path,
    title: str = "",
    column_labels: Sequence[str] | None = None,
) -> None:
    """Save a grid where row i shows the images of rows[i] (n, h, w, c)."""
    num_rows = len(rows)
    num_columns = max(len(row) for row in rows)
    figure, axes = plt.subplots(
        num_rows,
        num_columns,
        figsize=(1.1 * num_columns + 1.2, 1.15 * num_rows + 0.5),
        squeeze=False,
        layout="constrained",  # leaves room for the title and row labels
    )
    for row_index, images in enumerate(rows):
        for column_index in range(num_columns):
            axis = axes[row_index, column_index]
            if column_index < len(images):
                _show(axis, images[column_index])
            else:
                axis.axis("off")
        axes[row_index, 0].set_ylabel(row_labels[row_index], fontsize=8)
    if column_labels is not None:
        for column_index, label in enumerate(column_labels):
            axes[0, column_index].set_title(label, fontsize=7)
    if title:
        figure.suptitle(title, fontsize=9)
    figure.savefig(path, dpi=100, format="png")
    plt.close(figure)


def save_denoising_figure(
    originals: np.ndarray, noisy: np.ndarray, denoised: np.ndarray, path: str | Path
) -> None:
    """Save three rows: original, noisy (the model input), denoised."""
    save_rows_figure(
        [originals, noisy, denoised],
        ["original", "noisy", "denoised"],
        path,
        title="Denoising autoencoder on test images",
    )


def save_neuron_figure(
    images_per_neuron: Sequence[np.ndarray],
    neuron_ids: Sequence[int],
    path: str | Path,
    title: str,
) -> None:
    """Save one row per coding neuron with the test images that excite it most."""
    save_rows_figure(
        list(images_per_neuron),
        [f"unit {neuron}" for neuron in neuron_ids],
        path,
        title=title,
    )
