"""Experience replay for GAN discriminators: a ring buffer of past fakes.

The discriminator is trained on a mix of fresh fakes and fakes from earlier steps, so it
keeps penalizing modes that the generator has already left and may return to.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="genlab")
class ReplayBuffer(keras.layers.Layer):
    """Ring buffer of generated images kept in non-trainable variables.

    The buffer lives in variables, so `push` and `draw` work inside a compiled
    `train_step`. Its contents are not written to `.keras` files, because they
    are training state that can be many megabytes, so a loaded model starts
    with an empty buffer.
    """

    def __init__(
        self,
        capacity: int,
        image_shape: tuple[int, int, int],
        seed: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if capacity < 1:
            raise ValueError(f"replay buffer capacity {capacity} must be 1 or more")
        self.capacity = int(capacity)
        self.image_shape = tuple(int(size) for size in image_shape)
        self.seed = int(seed)
        self.images = self.add_weight(
            shape=(self.capacity, *self.image_shape),
            initializer="zeros",
            trainable=False,
            name="images",
        )
        # Number of slots written so far, capped at capacity.
        self.filled = self.add_weight(
            shape=(), dtype="int32", initializer="zeros", trainable=False, name="filled"
        )
        self.next_index = self.add_weight(
            shape=(),
            dtype="int32",
            initializer="zeros",
            trainable=False,
            name="next_index",
        )
        # A generator of its own, so drawing from the buffer leaves the GAN's
        # latent noise sequence unchanged.
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.built = True

    def push(self, images):
        """Write images into the oldest slots, at most `capacity` images per call."""
        count = ops.shape(images)[0]
        slots = ops.mod(
            self.next_index + ops.arange(count, dtype="int32"), self.capacity
        )
        self.images.assign(
            ops.scatter_update(self.images, ops.expand_dims(slots, 1), images)
        )
        self.next_index.assign(ops.mod(self.next_index + count, self.capacity))
        self.filled.assign(ops.minimum(self.filled + count, self.capacity))

    def draw(self, count: int):
        """Return `count` stored images drawn uniformly with replacement.

        While the buffer is empty this returns zeros, so callers must check
        `filled` before using the result.
        """
        # randint needs maxval > minval, hence the floor of 1 on an empty buffer.
        upper = ops.maximum(self.filled, 1)
        slots = keras.random.randint(
            (count,), 0, upper, dtype="int32", seed=self.seed_generator
        )
        return ops.take(self.images, slots, axis=0)

    def save_own_variables(self, store) -> None:
        # Skipped on purpose: see the class docstring.
        pass

    def load_own_variables(self, store) -> None:
        pass

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            capacity=self.capacity, image_shape=list(self.image_shape), seed=self.seed
        )
        return config


def replay_count(batch_size, replay_fraction: float):
    """Return round(replay_fraction * batch_size) as an int32 tensor."""
    size = ops.cast(batch_size, "float32")
    return ops.cast(ops.round(replay_fraction * size), "int32")


def mix_fakes(fresh_images, replayed_images, count):
    """Replace the last `count` rows of a fake batch with replayed images.

    Both inputs have shape (batch, height, width, channels). Selecting rows
    with a mask keeps the batch shape static inside a compiled train step.
    """
    batch_size = ops.shape(fresh_images)[0]
    rows = ops.arange(batch_size, dtype="int32")
    from_replay = ops.reshape(rows >= batch_size - count, (-1, 1, 1, 1))
    return ops.where(from_replay, replayed_images, fresh_images)
