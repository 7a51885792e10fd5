"""tf.data input pipelines that cast uint8 images to float per batch."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def scale_images(images: tf.Tensor) -> tf.Tensor:
    """Map uint8 pixels to float32 in [0, 1]."""
    return tf.cast(images, tf.float32) / 255.0


def image_batches(
    images: np.ndarray,
    batch_size: int,
    labels: np.ndarray | None = None,
    target: str = "none",
    shuffle_seed: int | None = None,
) -> tf.data.Dataset:
    """Batch uint8 images into float32 [0, 1] batches.

    target: "none" yields images only, "images" yields (images, images) for an
    autoencoder, "labels" yields (images, labels) for a classifier.
    With shuffle_seed, the order is reshuffled every epoch from that seed.
    """
    if target == "labels" and labels is None:
        raise ValueError("target='labels' needs labels")
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
        dataset = dataset.map(lambda x, y: (scale_images(x), y))
    elif target == "images":
        dataset = dataset.map(lambda x: (scale_images(x), scale_images(x)))
    elif target == "none":
        dataset = dataset.map(scale_images)
    else:
        raise ValueError(f"unknown target {target!r}; use none, images or labels")
    return dataset.prefetch(tf.data.AUTOTUNE)
