"""Image grids of generated samples, written as PNG files with matplotlib."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # writes files only, so no display is needed in workers

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def save_image_grid(
    images: np.ndarray,
    path: str | Path,
    rows: int,
    titles: Sequence[str] | None = None,
) -> Path:
    """Save images (n, h, w, c) as a rows x ceil(n / rows) grid PNG.

    Images are uint8 or float in [0, 1]. Float values outside [0, 1] are clipped.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            f"images have shape {images.shape}; expected (n, height, width, 1 or 3)"
        )
    if rows < 1 or len(images) == 0:
        raise ValueError(f"cannot draw {len(images)} images in {rows} rows")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"got {len(titles)} titles for {len(images)} images")
    if images.dtype == np.uint8:
        max_value = 255
    else:
        images = np.clip(images, 0.0, 1.0)
        max_value = 1.0

    columns = math.ceil(len(images) / rows)
    figure, axes = plt.subplots(
        rows, columns, figsize=(1.2 * columns, 1.2 * rows + 0.2), squeeze=False
    )
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index >= len(images):
            continue
        image = images[index]
        if image.shape[-1] == 1:
            axis.imshow(image[..., 0], cmap="gray", vmin=0, vmax=max_value)
        else:
            axis.imshow(image)
        if titles is not None:
            axis.set_title(titles[index], fontsize=7)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
