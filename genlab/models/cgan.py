"""Conditional GAN: the class label is an input of both networks."""

from __future__ import annotations

from dataclasses import asdict

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from genlab.model_configs import CGANConfig
from genlab.models.gan import (
    GANBase,
    build_discriminator,
    build_generator,
    check_image_shape,
)


@keras.saving.register_keras_serializable(package="genlab")
class ConditionalGAN(GANBase):
    """Conditional GAN trained with fit(images, labels).

    Images are float in [-1, 1] with shape (n, h, w, c). Labels are integer
    class ids in [0, num_classes), shape (n,).
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        num_classes: int,
        config: CGANConfig = CGANConfig(),
        seed: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if num_classes < 2:
            raise ValueError(f"num_classes={num_classes} is invalid; use 2 or more")
        self.image_shape = check_image_shape(image_shape)
        self.num_classes = int(num_classes)
        self.config = config
        self.seed = int(seed)
        self.generator = build_generator(
            self.image_shape,
            config.latent_dim,
            config.filters,
            self.seed,
            num_classes=self.num_classes,
            embedding_dim=config.embedding_dim,
        )
        self.discriminator = build_discriminator(
            self.image_shape,
            config.filters,
            self.seed,
            config.leaky_relu_slope,
            num_classes=self.num_classes,
        )
        self._finish_init()

    def call(self, inputs, training: bool = False):
        """Map [latents (batch, latent_dim), labels (batch,)] to images in [-1, 1]."""
        return self.generator(inputs, training=training)

    def train_step(self, data):
        real_images, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        if labels is None:
            raise ValueError(
                "ConditionalGAN.fit needs labels: call fit(images, labels)"
            )
        labels = ops.cast(ops.reshape(labels, (-1,)), "int32")
        batch_size = ops.shape(real_images)[0]

        # Train the discriminator: real pairs are (image, its label) and fake
        # pairs are (G(z, label), label), so it learns to reject images that
        # do not match their label.
        with tf.GradientTape() as tape:
            latents = self._latent_batch(batch_size)
            fake_images = self.generator([latents, labels], training=True)
            real_logits = self.discriminator([real_images, labels], training=True)
            fake_logits = self.discriminator(
                [ops.stop_gradient(fake_images), labels], training=True
            )
            d_loss = self._discriminator_loss(real_logits, fake_logits)
        self._apply(self.d_optimizer, tape, d_loss, self.discriminator)

        # Train the generator on the batch's label distribution.
        with tf.GradientTape() as tape:
            latents = self._latent_batch(batch_size)
            fake_images = self.generator([latents, labels], training=True)
            fake_logits = self.discriminator([fake_images, labels], training=True)
            g_loss = self._generator_loss(fake_logits)
        self._apply(self.g_optimizer, tape, g_loss, self.generator)

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {metric.name: metric.result() for metric in self.metrics}

    def generate(self, labels, seed: int = 0, batch_size: int = 256) -> np.ndarray:
        """Generate one image per requested label as float32 in [0, 1], NHWC."""
        labels = np.asarray(labels).astype(np.int32).reshape(-1)
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(
                f"labels must be in [0, {self.num_classes}); got values from "
                f"{labels.min()} to {labels.max()}"
            )
        latents = self._latents(len(labels), seed)
        return self._generate_numpy(latents, [labels], batch_size)

    def sample(
        self, n: int, seed: int = 0, labels=None, batch_size: int = 256
    ) -> np.ndarray:
        """Generate n images as float32 in [0, 1], NHWC.

        Without labels, classes cycle 0, 1, ..., num_classes - 1, 0, ...
        """
        if labels is None:
            labels = np.arange(n) % self.num_classes
        elif len(labels) != n:
            raise ValueError(f"got {len(labels)} labels for n={n} images")
        return self.generate(labels, seed=seed, batch_size=batch_size)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            image_shape=list(self.image_shape),
            num_classes=self.num_classes,
            config=asdict(self.config),
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config: dict) -> ConditionalGAN:
        config = dict(config)
        gan_config = CGANConfig(**config.pop("config"))
        image_shape = tuple(config.pop("image_shape"))
        return cls(image_shape, config.pop("num_classes"), gan_config, **config)
