"""Deep denoising autoencoder with a dense coding layer."""

from __future__ import annotations

import keras
from keras import layers

from genlab.config import AutoencoderConfig

CODING_LAYER = "coding"


def build_denoising_autoencoder(
    image_shape: tuple[int, int, int], config: AutoencoderConfig, seed: int = 0
) -> tuple[keras.Model, keras.Model]:
    """Build (autoencoder, encoder) for images in [0, 1] of the given shape.

    Encoder: GaussianNoise, Conv2D, MaxPool 2x2, Flatten, Dense coding layer.
    Decoder mirrors it: Dense, Reshape, and a stride-2 Conv2DTranspose with a
    sigmoid back to the input channels. Height and width must be even.
    """
    height, width, channels = image_shape
    if height % 2 or width % 2:
        raise ValueError(f"image shape {image_shape} needs an even height and width")

    def init(offset: int) -> keras.initializers.Initializer:
        # Seeded per layer so that models built in parallel threads stay
        # reproducible without touching Keras' global seed.
        return keras.initializers.GlorotUniform(seed=seed * 1000 + offset)

    inputs = keras.Input(shape=image_shape, name="images")
    x = layers.GaussianNoise(config.noise_stddev, seed=seed, name="noise")(inputs)
    x = layers.Conv2D(
        config.filters,
        config.kernel_size,
        padding="same",
        activation="relu",
        kernel_initializer=init(1),
        name="conv",
    )(x)
    x = layers.MaxPool2D(2, name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    codings = layers.Dense(
        config.coding_units,
        activation="relu",
        kernel_initializer=init(2),
        name=CODING_LAYER,
    )(x)
    encoder = keras.Model(inputs, codings, name="encoder")

    pooled_shape = (height // 2, width // 2, config.filters)
    decoder_inputs = keras.Input(shape=(config.coding_units,), name="codings")
    y = layers.Dense(
        pooled_shape[0] * pooled_shape[1] * pooled_shape[2],
        activation="relu",
        kernel_initializer=init(3),
        name="expand",
    )(decoder_inputs)
    y = layers.Reshape(pooled_shape, name="unflatten")(y)
    y = layers.Conv2DTranspose(
        channels,
        config.kernel_size,
        strides=2,
        padding="same",
        activation="sigmoid",
        kernel_initializer=init(4),
        name="deconv",
    )(y)
    decoder = keras.Model(decoder_inputs, y, name="decoder")

    autoencoder = keras.Model(inputs, decoder(encoder(inputs)), name="autoencoder")
    autoencoder.compile(
        optimizer=keras.optimizers.Nadam(config.learning_rate),
        loss="binary_crossentropy",
        metrics=["mse"],
    )
    return autoencoder, encoder
