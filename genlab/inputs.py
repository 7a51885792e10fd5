"""tf.data input pipelines that cast uint8 images to float per batch."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def scale_images(images: tf.Tensor, value_range: str = "unit") -> tf.Tensor:
    """Map uint8 pixels to float32 in [0, 1] ("unit") or [-1, 1] ("tanh")."""
    images = tf.cast(images, tf.float32)
    if value_range == "unit":
        return images / 255.0
    if value_range == "tanh":
        return images / 127.5 - 1.0
    raise ValueError(f"unknown value_range {value_range!r}; use 'unit' or 'tanh'")


def image_batches(
    images: np.ndarray,
    batch_size: int,
    labels: np.ndarray | None = None,
    target: str = "none",
    shuffle_seed: int | None = None,
    value_range: str = "unit",
) -> tf.data.Dataset:
    """Batch uint8 images into float32 batches.

    target: "none" yields images only, "images" yields (images, images) for an
    autoencoder, "labels" yields (images, labels) for a classifier or a
    conditional GAN. With shuffle_seed, the order is reshuffled every epoch
    from that seed. value_range is "unit" for [0, 1] or "tanh" for [-1, 1].
    """
    if target not in ("none", "images", "labels"):
        raise ValueError(f"unknown target {target!r}; use none, images or labels")
    if target == "labels" and labels is None:
        raise ValueError("target='labels' needs labels")
    scale_images(tf.zeros((1,), tf.uint8), value_range)  # reject a bad range now

    if target == "labels":
        dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    else:
        dataset = tf.data.Dataset.from_tensor_slices(images)
    if shuffle_seed is not None:
        dataset = dataset.shuffle(
            len(images), seed=shuffle_seed, reshuffle_each_iteration=True
        )
    dataset = dataset.batch(batch_size)

    if target == "labels":
        dataset = dataset.map(lambda x, y: (scale_images(x, value_range), y))
    elif target == "images":
        dataset = dataset.map(
            lambda x: (scale_images(x, value_range), scale_images(x, value_range))
        )
    else:
        dataset = dataset.map(lambda x: scale_images(x, value_range))
    return dataset.prefetch(tf.data.AUTOTUNE)
