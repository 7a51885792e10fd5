"""DCGAN with optional experience replay, and the networks shared with the cGAN.

Generators end in tanh, so training images must be scaled to [-1, 1] (see
`to_tanh_range`). `sample` methods return float32 images in [0, 1], NHWC.
"""

from __future__ import annotations

from dataclasses import asdict

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from genlab.model_configs import DCGANConfig
from genlab.models.replay import ReplayBuffer, mix_fakes, replay_count

# The DCGAN recipe draws all initial weights from N(0, 0.02).
INIT_STDDEV = 0.02


def to_tanh_range(images) -> np.ndarray:
    """Scale uint8 images in [0, 255] to float32 in [-1, 1] for GAN training."""
    return np.asarray(images, dtype=np.float32) / 127.5 - 1.0


def check_image_shape(image_shape: tuple[int, int, int]) -> tuple[int, int, int]:
    """Return the shape as ints, or raise unless height and width are multiples of 4."""
    height, width, channels = (int(size) for size in image_shape)
    if height % 4 or width % 4:
        raise ValueError(
            f"image shape {tuple(image_shape)} is invalid; the generator upsamples "
            "twice by 2, so height and width must be multiples of 4 (28, 32)"
        )
    return height, width, channels


def normal_init(seed: int, offset: int) -> keras.initializers.Initializer:
    # One seed per layer, derived from the model seed, so that models built in
    # parallel threads are reproducible without Keras' global seed.
    return keras.initializers.RandomNormal(
        stddev=INIT_STDDEV, seed=seed * 1000 + offset
    )


def build_generator(
    image_shape: tuple[int, int, int],
    latent_dim: int,
    filters: int,
    seed: int,
    num_classes: int | None = None,
    embedding_dim: int = 50,
) -> keras.Model:
    """Build latent vectors (and labels) -> images in [-1, 1].

    Dense to (height/4, width/4, 4*filters), then two stride-2 transposed
    convolutions with BatchNorm and ReLU, then a tanh convolution. With
    num_classes, an embedded label is concatenated to the latent vector.
    """
    height, width, channels = check_image_shape(image_shape)
    latents = keras.Input(shape=(latent_dim,), name="latents")
    inputs = [latents]
    x = latents
    if num_classes is not None:
        labels = keras.Input(shape=(), dtype="int32", name="labels")
        inputs.append(labels)
        embedded = layers.Embedding(
            num_classes,
            embedding_dim,
            embeddings_initializer=normal_init(seed, 1),
            name="label_embedding",
        )(labels)
        x = layers.Concatenate(name="latents_and_label")([latents, embedded])

    start_shape = (height // 4, width // 4, 4 * filters)
    x = layers.Dense(
        int(np.prod(start_shape)),
        use_bias=False,
        kernel_initializer=normal_init(seed, 2),
        name="project",
    )(x)
    x = layers.BatchNormalization(name="project_bn")(x)
    x = layers.ReLU(name="project_relu")(x)
    x = layers.Reshape(start_shape, name="start_grid")(x)
    for index, width_factor in enumerate((2, 1), start=1):
        x = layers.Conv2DTranspose(
            width_factor * filters,
            4,
            strides=2,
            padding="same",
            use_bias=False,
            kernel_initializer=normal_init(seed, 2 + index),
            name=f"upsample_{index}",
        )(x)
        x = layers.BatchNormalization(name=f"upsample_{index}_bn")(x)
        x = layers.ReLU(name=f"upsample_{index}_relu")(x)
    # (batch, height, width, channels)
    images = layers.Conv2D(
        channels,
        3,
        padding="same",
        activation="tanh",
        kernel_initializer=normal_init(seed, 5),
        name="to_images",
    )(x)
    # A one-input model takes a bare tensor, not a one-element list.
    model_inputs = inputs if len(inputs) > 1 else latents
    return keras.Model(model_inputs, images, name="generator")


def build_discriminator(
    image_shape: tuple[int, int, int],
    filters: int,
    seed: int,
    leaky_relu_slope: float = 0.2,
    num_classes: int | None = None,
) -> keras.Model:
    """Build images (and labels) -> one real/fake logit per image.

    Two stride-2 convolutions with LeakyReLU and no BatchNorm, so the logit of
    an image does not depend on the rest of its batch. With num_classes, an
    embedded label is reshaped to one extra image channel.
    """
    height, width, channels = check_image_shape(image_shape)
    images = keras.Input(shape=(height, width, channels), name="images")
    inputs = [images]
    x = images
    if num_classes is not None:
        labels = keras.Input(shape=(), dtype="int32", name="labels")
        inputs.append(labels)
        label_maps = layers.Embedding(
            num_classes,
            height * width,
            embeddings_initializer=normal_init(seed, 21),
            name="label_embedding",
        )(labels)
        label_maps = layers.Reshape((height, width, 1), name="label_map")(label_maps)
        x = layers.Concatenate(name="images_and_label")([images, label_maps])

    for index, width_factor in enumerate((1, 2), start=1):
        x = layers.Conv2D(
            width_factor * filters,
            4,
            strides=2,
            padding="same",
            kernel_initializer=normal_init(seed, 21 + index),
            name=f"downsample_{index}",
        )(x)
        x = layers.LeakyReLU(leaky_relu_slope, name=f"downsample_{index}_lrelu")(x)
    x = layers.Flatten(name="flatten")(x)
    logits = layers.Dense(1, kernel_initializer=normal_init(seed, 24), name="logit")(x)
    model_inputs = inputs if len(inputs) > 1 else images
    return keras.Model(model_inputs, logits, name="discriminator")


class GANBase(keras.Model):
    """Optimizers, loss trackers and saving shared by the DCGAN and the cGAN.

    Subclasses set `generator`, `discriminator`, `config` and `seed` in
    `__init__` before calling `_finish_init`.
    """

    def _finish_init(self) -> None:
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        # Latent noise for training. sample() uses its own numpy generator.
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        # Both networks are built here, so fit() and load_model() need no
        # symbolic build pass.
        self.built = True

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        # Listing the trackers makes fit() reset them at each epoch start.
        return [self.d_loss_tracker, self.g_loss_tracker]

    def compile(
        self,
        d_optimizer: keras.optimizers.Optimizer | None = None,
        g_optimizer: keras.optimizers.Optimizer | None = None,
        **kwargs,
    ) -> None:
        """Set one optimizer per network, Adam from the config where None is passed."""
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = d_optimizer or keras.optimizers.Adam(
            self.config.d_learning_rate, beta_1=self.config.beta_1
        )
        self.g_optimizer = g_optimizer or keras.optimizers.Adam(
            self.config.g_learning_rate, beta_1=self.config.beta_1
        )

    def get_compile_config(self) -> dict | None:
        if not self.compiled:
            return None
        return {
            "d_optimizer": keras.optimizers.serialize(self.d_optimizer),
            "g_optimizer": keras.optimizers.serialize(self.g_optimizer),
        }

    def compile_from_config(self, config: dict) -> None:
        self.compile(
            d_optimizer=keras.optimizers.deserialize(config["d_optimizer"]),
            g_optimizer=keras.optimizers.deserialize(config["g_optimizer"]),
        )
        # Creating the slot variables now lets load_model restore their values.
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    def _latent_batch(self, batch_size):
        return keras.random.normal(
            (batch_size, self.config.latent_dim), seed=self.seed_generator
        )

    def _discriminator_loss(self, real_logits, fake_logits):
        real_loss = self.loss_fn(ops.ones_like(real_logits), real_logits)
        fake_loss = self.loss_fn(ops.zeros_like(fake_logits), fake_logits)
        return real_loss + fake_loss

    def _generator_loss(self, fake_logits):
        # Non-saturating loss: maximize log D(G(z)) instead of minimizing
        # log(1 - D(G(z))), which has vanishing gradients early in training.
        return self.loss_fn(ops.ones_like(fake_logits), fake_logits)

    def _apply(self, optimizer, tape, loss, network: keras.Model) -> None:
        gradients = tape.gradient(loss, network.trainable_variables)
        optimizer.apply_gradients(
            zip(gradients, network.trainable_variables, strict=True)
        )

    def _generate_numpy(self, latents: np.ndarray, extra_inputs: list, batch_size):
        """Run the generator in inference mode and return float32 images in [0, 1]."""
        outputs = []
        for start in range(0, len(latents), batch_size):
            stop = start + batch_size
            inputs = [latents[start:stop]] + [
                extra[start:stop] for extra in extra_inputs
            ]
            if len(inputs) == 1:
                inputs = inputs[0]
            images = self.generator(inputs, training=False)
            outputs.append(ops.convert_to_numpy(images))
        images = (
            np.concatenate(outputs) if outputs else np.zeros((0, *self.image_shape))
        )
        return np.clip((images + 1.0) / 2.0, 0.0, 1.0).astype(np.float32)

    def _latents(self, n: int, seed: int) -> np.ndarray:
        if n < 0:
            raise ValueError(f"cannot sample {n} images; use n >= 0")
        rng = np.random.default_rng(seed)
        return rng.standard_normal((n, self.config.latent_dim)).astype(np.float32)


@keras.saving.register_keras_serializable(package="genlab")
class DCGAN(GANBase):
    """DCGAN trained with fit() on float images in [-1, 1], shape (n, h, w, c).

    With config.replay_fraction > 0 the discriminator is also trained on replayed
    fakes. With 0 there is no buffer and training is the plain DCGAN. The networks are
    the same in both cases, so the two settings have equal parameter counts.
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        config: DCGANConfig = DCGANConfig(),
        seed: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.image_shape = check_image_shape(image_shape)
        self.config = config
        self.seed = int(seed)
        self.generator = build_generator(
            self.image_shape, config.latent_dim, config.filters, self.seed
        )
        self.discriminator = build_discriminator(
            self.image_shape, config.filters, self.seed, config.leaky_relu_slope
        )
        self.replay_buffer = None
        if config.replay_fraction > 0:
            self.replay_buffer = ReplayBuffer(
                config.replay_buffer_size,
                self.image_shape,
                seed=self.seed + 1,
                name="replay_buffer",
            )
        self._finish_init()

    def call(self, latents, training: bool = False):
        """Map latent vectors (batch, latent_dim) to images in [-1, 1]."""
        return self.generator(latents, training=training)

    def train_step(self, data):
        real_images, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        batch_size = ops.shape(real_images)[0]

        # Train the discriminator on real images and a batch of fakes, part
        # of which may come from the replay buffer.
        with tf.GradientTape() as tape:
            fake_images = self.generator(self._latent_batch(batch_size), training=True)
            fake_images = self._with_replayed_fakes(ops.stop_gradient(fake_images))
            real_logits = self.discriminator(real_images, training=True)
            fake_logits = self.discriminator(fake_images, training=True)
            d_loss = self._discriminator_loss(real_logits, fake_logits)
        self._apply(self.d_optimizer, tape, d_loss, self.discriminator)

        # Train the generator to make the updated discriminator call fresh
        # fakes real.
        with tf.GradientTape() as tape:
            fake_images = self.generator(self._latent_batch(batch_size), training=True)
            fake_logits = self.discriminator(fake_images, training=True)
            g_loss = self._generator_loss(fake_logits)
        self._apply(self.g_optimizer, tape, g_loss, self.generator)

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {metric.name: metric.result() for metric in self.metrics}

    def _with_replayed_fakes(self, fresh_images):
        """Mix replayed fakes into a fresh batch, then store fresh ones."""
        if self.replay_buffer is None:
            return fresh_images
        batch_size = ops.shape(fresh_images)[0]
        count = replay_count(batch_size, self.config.replay_fraction)
        # Draw before pushing, so the replayed images come from earlier steps.
        usable = ops.where(self.replay_buffer.filled > 0, count, 0)
        replayed_images = self.replay_buffer.draw(batch_size)
        mixed_images = mix_fakes(fresh_images, replayed_images, usable)
        # Turnover matches use: as many fresh fakes go in as replayed come out.
        self.replay_buffer.push(fresh_images[:count])
        return mixed_images

    def sample(self, n: int, seed: int = 0, batch_size: int = 256) -> np.ndarray:
        """Generate n images as float32 in [0, 1], shape (n, h, w, c)."""
        return self._generate_numpy(self._latents(n, seed), [], batch_size)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            image_shape=list(self.image_shape),
            config=asdict(self.config),
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config: dict) -> DCGAN:
        config = dict(config)
        gan_config = DCGANConfig(**config.pop("config"))
        image_shape = tuple(config.pop("image_shape"))
        return cls(image_shape, gan_config, **config)
