"""Convolutional variational autoencoder (VAE) with a Gaussian latent space.

Training images are float32 in [0, 1] with shape (n, h, w, c), see `to_unit_range`.
`sample`, `decode` and `interpolate` return float32 images in [0, 1], NHWC.
"""

from __future__ import annotations

from dataclasses import asdict

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from genlab.model_configs import VAEConfig
from genlab.models.gan import check_image_shape


def to_unit_range(images) -> np.ndarray:
    """Scale uint8 images in [0, 255] to float32 in [0, 1] for VAE training."""
    return np.asarray(images, dtype=np.float32) / 255.0


def glorot_init(seed: int, offset: int) -> keras.initializers.Initializer:
    # One seed per layer so that models built in parallel threads are
    # reproducible without Keras' global seed.
    return keras.initializers.GlorotUniform(seed=seed * 1000 + offset)


def build_vae_encoder(
    image_shape: tuple[int, int, int], config: VAEConfig, seed: int
) -> keras.Model:
    """Build images -> [mean, log_variance], each of shape (batch, latent_dim)."""
    images = keras.Input(shape=image_shape, name="images")
    x = images
    for index, width_factor in enumerate((1, 2), start=1):
        x = layers.Conv2D(
            width_factor * config.filters,
            3,
            strides=2,
            padding="same",
            activation="relu",
            kernel_initializer=glorot_init(seed, index),
            name=f"downsample_{index}",
        )(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(
        config.dense_units,
        activation="relu",
        kernel_initializer=glorot_init(seed, 3),
        name="hidden",
    )(x)
    means = layers.Dense(
        config.latent_dim, kernel_initializer=glorot_init(seed, 4), name="mean"
    )(x)
    log_variances = layers.Dense(
        config.latent_dim, kernel_initializer=glorot_init(seed, 5), name="log_variance"
    )(x)
    return keras.Model(images, [means, log_variances], name="encoder")


def build_vae_decoder(
    image_shape: tuple[int, int, int], config: VAEConfig, seed: int
) -> keras.Model:
    """Build latents -> images in [0, 1], mirroring the encoder."""
    height, width, channels = image_shape
    start_shape = (height // 4, width // 4, 2 * config.filters)
    latents = keras.Input(shape=(config.latent_dim,), name="latents")
    x = layers.Dense(
        int(np.prod(start_shape)),
        activation="relu",
        kernel_initializer=glorot_init(seed, 11),
        name="project",
    )(latents)
    x = layers.Reshape(start_shape, name="start_grid")(x)
    for index, width_factor in enumerate((2, 1), start=1):
        x = layers.Conv2DTranspose(
            width_factor * config.filters,
            3,
            strides=2,
            padding="same",
            activation="relu",
            kernel_initializer=glorot_init(seed, 11 + index),
            name=f"upsample_{index}",
        )(x)
    # (batch, height, width, channels)
    images = layers.Conv2D(
        channels,
        3,
        padding="same",
        activation="sigmoid",
        kernel_initializer=glorot_init(seed, 14),
        name="to_images",
    )(x)
    return keras.Model(latents, images, name="decoder")


@keras.saving.register_keras_serializable(package="genlab")
class VAE(keras.Model):
    """Convolutional VAE trained with fit(images) on float images in [0, 1].

    Tracks `loss` (the total), `reconstruction_loss` (binary cross-entropy
    summed over pixels, averaged over the batch) and `kl_loss` (KL divergence
    from N(0, I) in nats, summed over latent units, averaged over the batch).
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        config: VAEConfig = VAEConfig(),
        seed: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.image_shape = check_image_shape(image_shape)
        self.config = config
        self.seed = int(seed)
        self.encoder = build_vae_encoder(self.image_shape, config, self.seed)
        self.decoder = build_vae_decoder(self.image_shape, config, self.seed)
        self.total_loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(
            name="reconstruction_loss"
        )
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")
        # Noise of the reparameterization. sample() uses its own numpy generator.
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        # Both networks are built here, so fit() and load_model() need no
        # symbolic build pass.
        self.built = True

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        # Listing the trackers makes fit() and evaluate() reset them per epoch.
        return [
            self.total_loss_tracker,
            self.reconstruction_loss_tracker,
            self.kl_loss_tracker,
        ]

    def compile(self, optimizer=None, **kwargs) -> None:
        """Compile with Adam at config.learning_rate unless an optimizer is given."""
        if optimizer is None:
            optimizer = keras.optimizers.Adam(self.config.learning_rate)
        super().compile(optimizer=optimizer, **kwargs)

    def compile_from_config(self, config: dict) -> None:
        # Keras skips compiling on load when compile() is overridden, so this
        # restores the optimizer and creates its slots for the saved values.
        self.compile(**keras.saving.deserialize_keras_object(config))
        self.optimizer.build(self.trainable_variables)

    def call(self, images, training: bool = False):
        """Reconstruct images: sampled latents in training, the means otherwise."""
        means, log_variances = self.encoder(images, training=training)
        latents = self._reparameterize(means, log_variances) if training else means
        return self.decoder(latents, training=training)

    def _reparameterize(self, means, log_variances):
        # z = mean + sigma * epsilon keeps z differentiable in mean and sigma.
        noise = keras.random.normal(ops.shape(means), seed=self.seed_generator)
        return means + ops.exp(0.5 * log_variances) * noise

    def _compute_losses(self, images, training: bool):
        means, log_variances = self.encoder(images, training=training)
        latents = self._reparameterize(means, log_variances)
        reconstructions = self.decoder(latents, training=training)
        # (batch, h, w, c) per-pixel cross-entropy, summed per image.
        pixel_losses = ops.binary_crossentropy(images, reconstructions)
        reconstruction_loss = ops.mean(ops.sum(pixel_losses, axis=(1, 2, 3)))
        kl_per_unit = -0.5 * (
            1.0 + log_variances - ops.square(means) - ops.exp(log_variances)
        )
        kl_loss = ops.mean(ops.sum(kl_per_unit, axis=1))
        total_loss = reconstruction_loss + self.config.kl_weight * kl_loss
        return total_loss, reconstruction_loss, kl_loss

    def _update_trackers(self, total_loss, reconstruction_loss, kl_loss) -> dict:
        self.total_loss_tracker.update_state(total_loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {metric.name: metric.result() for metric in self.metrics}

    def train_step(self, data):
        images, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            losses = self._compute_losses(images, training=True)
        gradients = tape.gradient(losses[0], self.trainable_variables)
        self.optimizer.apply_gradients(
            zip(gradients, self.trainable_variables, strict=True)
        )
        return self._update_trackers(*losses)

    def test_step(self, data):
        images, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self._update_trackers(*self._compute_losses(images, training=False))

    def encode(self, images, batch_size: int = 256) -> np.ndarray:
        """Return the posterior means, shape (n, latent_dim), of images in [0, 1]."""
        means, _ = self.encoder.predict(
            np.asarray(images, dtype=np.float32), batch_size=batch_size, verbose=0
        )
        return means

    def decode(self, latents, batch_size: int = 256) -> np.ndarray:
        """Decode latents (n, latent_dim) to float32 images in [0, 1], NHWC."""
        return self.decoder.predict(
            np.asarray(latents, dtype=np.float32), batch_size=batch_size, verbose=0
        )

    def sample(self, n: int, seed: int = 0, batch_size: int = 256) -> np.ndarray:
        """Decode n draws from the prior N(0, I) to float32 images in [0, 1], NHWC."""
        if n < 0:
            raise ValueError(f"cannot sample {n} images; use n >= 0")
        rng = np.random.default_rng(seed)
        latents = rng.standard_normal((n, self.config.latent_dim)).astype(np.float32)
        return self.decode(latents, batch_size=batch_size)

    def interpolate(self, image_a, image_b, steps: int = 8) -> np.ndarray:
        """Decode a straight line between the latent means of two images.

        Returns `steps` float32 images in [0, 1], NHWC. The first and last are
        the reconstructions of image_a and image_b.
        """
        if steps < 2:
            raise ValueError(f"steps={steps} is invalid; use 2 or more")
        endpoints = self.encode(np.stack([image_a, image_b]))
        weights = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, np.newaxis]
        latents = (1.0 - weights) * endpoints[0] + weights * endpoints[1]
        return self.decode(latents)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            image_shape=list(self.image_shape),
            config=asdict(self.config),
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config: dict) -> VAE:
        config = dict(config)
        vae_config = VAEConfig(**config.pop("config"))
        image_shape = tuple(config.pop("image_shape"))
        return cls(image_shape, vae_config, **config)
