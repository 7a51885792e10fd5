"""Denoising diffusion probabilistic model (DDPM) with a small U-Net.

The forward process uses the cosine noise schedule of Nichol & Dhariwal,
"Improved Denoising Diffusion Probabilistic Models" (2021). The network predicts
the noise added to an image, trained with the simple MSE loss of Ho et al.,
"Denoising Diffusion Probabilistic Models" (2020). Images are sampled either with
the ancestral DDPM chain over all timesteps or with deterministic DDIM (Song et
al., "Denoising Diffusion Implicit Models", 2021, eta=0) over fewer steps.

Timestep indices run from 0 to T-1: index i is diffusion step t = i + 1, so
`alpha_bars[i]` is the signal fraction after i + 1 noising steps. Training
images are float32 in [-1, 1]; both samplers return float32 NHWC in [0, 1].

The training step and the samplers use TensorFlow directly (GradientTape,
stateless random ops, tf.function), so this module needs Keras' TensorFlow
backend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from genlab.errors import ConfigError
from genlab.model_configs import FULL_DDPM_CONFIG, DDPMConfig  # noqa: F401


@dataclass(frozen=True)
class NoiseSchedule:
    """Per-timestep coefficients of the forward process, float64 of shape (T,)."""

    betas: np.ndarray
    alphas: np.ndarray  # 1 - betas
    alpha_bars: np.ndarray  # cumulative product of alphas

    @property
    def timesteps(self) -> int:
        return len(self.betas)


def cosine_alpha_bar(
    steps: np.ndarray, timesteps: int, offset: float = 0.008
) -> np.ndarray:
    """Evaluate the unclipped cosine alpha_bar(t) = f(t) / f(0) at steps t in [0, T].

    f(t) = cos^2(((t / T) + s) / (1 + s) * pi / 2) with s = offset.
    """

    def f(step: np.ndarray) -> np.ndarray:
        angle = (np.asarray(step, dtype=np.float64) / timesteps + offset) / (1 + offset)
        return np.cos(angle * math.pi / 2) ** 2

    return f(steps) / f(np.zeros(1))


def cosine_schedule(
    timesteps: int, offset: float = 0.008, max_beta: float = 0.999
) -> NoiseSchedule:
    """Build the cosine schedule for T timesteps, betas clipped at max_beta.

    beta_t = 1 - alpha_bar(t) / alpha_bar(t - 1) for t = 1..T. Clipping only
    changes the last few steps, where alpha_bar(t) reaches 0 at t = T, and
    alpha_bars is the cumulative product of the clipped alphas, so it stays
    consistent with betas and strictly positive.
    """
    if timesteps < 1:
        raise ValueError(f"timesteps={timesteps} is invalid; use 1 or more")
    alpha_bar_values = cosine_alpha_bar(np.arange(timesteps + 1), timesteps, offset)
    betas = 1.0 - alpha_bar_values[1:] / alpha_bar_values[:-1]
    betas = np.clip(betas, 0.0, max_beta)
    alphas = 1.0 - betas
    return NoiseSchedule(betas=betas, alphas=alphas, alpha_bars=np.cumprod(alphas))


def ddim_timesteps(timesteps: int, steps: int) -> np.ndarray:
    """Return `steps` evenly spaced timestep indices from T-1 down to 0."""
    if not 1 <= steps <= timesteps:
        raise ValueError(
            f"steps={steps} is invalid; use 1 to {timesteps} (the model's timesteps)"
        )
    indices = np.linspace(0, timesteps - 1, steps).round().astype(np.int32)
    return np.unique(indices)[::-1]


# ---------------------------------------------------------------------------
# U-Net


@keras.saving.register_keras_serializable(package="genlab")
class SinusoidalEmbedding(layers.Layer):
    """Transformer-style sine/cosine features of integer timesteps.

    Input: (batch,) timestep indices. Output: (batch, dim) float32.
    """

    def __init__(self, dim: int, max_period: float = 10_000.0, **kwargs):
        super().__init__(**kwargs)
        self.dim = dim
        self.max_period = max_period

    def call(self, steps):
        half = self.dim // 2
        exponents = keras.ops.arange(half, dtype="float32") / half
        frequencies = keras.ops.exp(-math.log(self.max_period) * exponents)
        # (batch, half)
        angles = keras.ops.cast(steps, "float32")[:, None] * frequencies[None, :]
        return keras.ops.concatenate(
            [keras.ops.sin(angles), keras.ops.cos(angles)], axis=-1
        )

    def get_config(self) -> dict:
        return {**super().get_config(), "dim": self.dim, "max_period": self.max_period}


def residual_block(x, time_features, channels: int, groups: int, init, name: str):
    """GroupNorm, swish, conv, add the timestep projection, repeat; plus a skip."""
    skip = x
    if x.shape[-1] != channels:
        skip = layers.Conv2D(
            channels, 1, kernel_initializer=init(), name=f"{name}_skip"
        )(x)
    h = layers.GroupNormalization(groups, name=f"{name}_norm1")(x)
    h = layers.Activation("swish")(h)
    h = layers.Conv2D(
        channels, 3, padding="same", kernel_initializer=init(), name=f"{name}_conv1"
    )(h)
    # (batch, 1, 1, channels): the timestep shifts every feature map.
    shift = layers.Dense(channels, kernel_initializer=init(), name=f"{name}_time")(
        time_features
    )
    h = layers.Add()([h, layers.Reshape((1, 1, channels))(shift)])
    h = layers.GroupNormalization(groups, name=f"{name}_norm2")(h)
    h = layers.Activation("swish")(h)
    h = layers.Conv2D(
        channels, 3, padding="same", kernel_initializer=init(), name=f"{name}_conv2"
    )(h)
    return layers.Add(name=f"{name}_out")([skip, h])


class SeededInitializers:
    """Glorot-uniform initializers with distinct seeds derived from one seed.

    Each layer gets its own seed, so a model built twice with the same seed has
    the same weights without touching Keras' global seed.
    """

    def __init__(self, seed: int):
        self.seed = seed
        self.count = 0

    def __call__(self) -> keras.initializers.Initializer:
        self.count += 1
        return keras.initializers.GlorotUniform(seed=self.seed * 100_003 + self.count)


def build_unet(
    image_shape: tuple[int, int, int],
    config: DDPMConfig,
    seed: int = 0,
    name: str = "unet",
) -> keras.Model:
    """Build the noise-prediction U-Net: (noisy images, timesteps) -> noise.

    Each level after the first halves height and width with a stride-2 conv,
    so both must be divisible by 2 ** (len(channel_multipliers) - 1).
    """
    height, width, channels = image_shape
    downsamples = len(config.channel_multipliers) - 1
    if height % 2**downsamples or width % 2**downsamples:
        raise ConfigError(
            f"image shape {image_shape} does not halve {downsamples} times; "
            f"use height and width divisible by {2**downsamples} or fewer "
            "channel_multipliers"
        )

    init = SeededInitializers(seed)
    images = keras.Input(shape=image_shape, name="noisy_images")
    steps = keras.Input(shape=(), dtype="int32", name="timesteps")
    time_features = SinusoidalEmbedding(config.embedding_dim, name="time_sinusoid")(
        steps
    )
    time_features = layers.Dense(
        4 * config.embedding_dim,
        activation="swish",
        kernel_initializer=init(),
        name="time_dense1",
    )(time_features)
    time_features = layers.Dense(
        4 * config.embedding_dim, kernel_initializer=init(), name="time_dense2"
    )(time_features)

    x = layers.Conv2D(
        config.filters, 3, padding="same", kernel_initializer=init(), name="stem"
    )(images)
    skips = [x]
    for level, multiplier in enumerate(config.channel_multipliers):
        level_channels = config.filters * multiplier
        for block in range(config.blocks_per_level):
            x = residual_block(
                x,
                time_features,
                level_channels,
                config.groups,
                init,
                f"down{level}_{block}",
            )
            skips.append(x)
        if level < downsamples:
            x = layers.Conv2D(
                level_channels,
                3,
                strides=2,
                padding="same",
                kernel_initializer=init(),
                name=f"downsample{level}",
            )(x)
            skips.append(x)

    bottom_channels = config.filters * config.channel_multipliers[-1]
    x = residual_block(
        x, time_features, bottom_channels, config.groups, init, "middle0"
    )
    x = residual_block(
        x, time_features, bottom_channels, config.groups, init, "middle1"
    )

    for level in reversed(range(len(config.channel_multipliers))):
        level_channels = config.filters * config.channel_multipliers[level]
        # One more block than on the way down, so every skip is consumed.
        for block in range(config.blocks_per_level + 1):
            x = layers.Concatenate()([x, skips.pop()])
            x = residual_block(
                x,
                time_features,
                level_channels,
                config.groups,
                init,
                f"up{level}_{block}",
            )
        if level > 0:
            x = layers.UpSampling2D(2, interpolation="nearest")(x)
            x = layers.Conv2D(
                level_channels,
                3,
                padding="same",
                kernel_initializer=init(),
                name=f"upsample{level}",
            )(x)

    x = layers.GroupNormalization(config.groups, name="out_norm")(x)
    x = layers.Activation("swish")(x)
    # Zero init: the untrained network predicts zero noise, a stable start.
    noises = layers.Conv2D(
        channels, 3, padding="same", kernel_initializer="zeros", name="out_conv"
    )(x)
    return keras.Model([images, steps], noises, name=name)


# ---------------------------------------------------------------------------
# Model


@keras.saving.register_keras_serializable(package="genlab")
class DDPM(keras.Model):
    """Noise-prediction diffusion model trained with `fit()` on images in [-1, 1].

    `fit()` takes batches of images (or (images, anything) tuples). The samplers
    use the EMA copy of the weights when ema_decay > 0.
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        config: DDPMConfig | dict | None = None,
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(config, dict):
            config = DDPMConfig.from_dict(config)
        self.config = config or DDPMConfig()
        self.image_shape = tuple(int(size) for size in image_shape)
        self.seed = seed

        self.network = build_unet(self.image_shape, self.config, seed, name="unet")
        self.ema_network = None
        if self.config.ema_decay > 0:
            self.ema_network = build_unet(
                self.image_shape, self.config, seed, name="ema_unet"
            )
            self.ema_network.set_weights(self.network.get_weights())
            # Only train_step's moving average updates it, and keeping it out of
            # trainable_weights keeps the optimizer's saved state the right size.
            self.ema_network.trainable = False
        # Both networks are built functional models, so this model needs no build().
        self.built = True

        schedule = cosine_schedule(
            self.config.timesteps, self.config.cosine_offset, self.config.max_beta
        )
        self.schedule = schedule
        self._alpha_bars = tf.constant(schedule.alpha_bars, tf.float32)
        self._betas = tf.constant(schedule.betas, tf.float32)
        self._alphas = tf.constant(schedule.alphas, tf.float32)

        self.seed_generator = keras.random.SeedGenerator(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "image_shape": list(self.image_shape),
            "config": self.config.to_dict(),
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config: dict) -> DDPM:
        config = dict(config)
        image_shape = tuple(config.pop("image_shape"))
        ddpm_config = DDPMConfig.from_dict(config.pop("config"))
        return cls(image_shape, ddpm_config, **config)

    @property
    def metrics(self) -> list:
        return [self.loss_tracker]

    @property
    def sampling_network(self) -> keras.Model:
        return self.ema_network if self.ema_network is not None else self.network

    def call(self, inputs, training: bool = False):
        """Predict the noise in (noisy_images, timestep indices)."""
        noisy_images, steps = inputs
        return self.network([noisy_images, steps], training=training)

    def q_sample(self, x0, t, noise):
        """Noise clean images x0 to timestep indices t with the given noise.

        Returns sqrt(alpha_bar[t]) * x0 + sqrt(1 - alpha_bar[t]) * noise, so for
        noise ~ N(0, I) it samples q(x_t | x_0). x0 and noise are (batch, H, W, C),
        t is (batch,) int.
        """
        x0 = tf.convert_to_tensor(x0, tf.float32)
        noise = tf.convert_to_tensor(noise, tf.float32)
        # (batch, 1, 1, 1)
        alpha_bars = tf.reshape(tf.gather(self._alpha_bars, t), [-1, 1, 1, 1])
        return tf.sqrt(alpha_bars) * x0 + tf.sqrt(1.0 - alpha_bars) * noise

    def train_step(self, data):
        images = data[0] if isinstance(data, (tuple, list)) else data
        images = tf.cast(images, tf.float32)
        batch_size = tf.shape(images)[0]

        # Pick a uniformly random timestep and fresh noise for every image.
        steps = keras.random.randint(
            (batch_size,), 0, self.config.timesteps, seed=self.seed_generator
        )
        steps = tf.cast(steps, tf.int32)
        noises = keras.random.normal(tf.shape(images), seed=self.seed_generator)
        noisy_images = self.q_sample(images, steps, noises)

        # Train the network to recover the noise (the simple loss of Ho et al.).
        with tf.GradientTape() as tape:
            pred_noises = self.network([noisy_images, steps], training=True)
            loss = tf.reduce_mean(tf.square(noises - pred_noises))
        gradients = tape.gradient(loss, self.network.trainable_weights)
        self.optimizer.apply_gradients(
            zip(gradients, self.network.trainable_weights, strict=True)
        )

        # Track an exponential moving average of the weights for sampling.
        # The decay (1 + n) / (10 + n) after n steps starts near 0.2, so short
        # runs still get useful EMA weights, and reaches 0.999 after ~9,000 steps.
        if self.ema_network is not None:
            iterations = tf.cast(self.optimizer.iterations, tf.float32)
            decay = tf.minimum(
                self.config.ema_decay, (1.0 + iterations) / (10.0 + iterations)
            )
            for weight, ema_weight in zip(
                self.network.weights, self.ema_network.weights, strict=True
            ):
                ema_weight.assign(decay * ema_weight + (1.0 - decay) * weight)

        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data):
        images = data[0] if isinstance(data, (tuple, list)) else data
        images = tf.cast(images, tf.float32)
        batch_size = tf.shape(images)[0]
        steps = keras.random.randint(
            (batch_size,), 0, self.config.timesteps, seed=self.seed_generator
        )
        steps = tf.cast(steps, tf.int32)
        noises = keras.random.normal(tf.shape(images), seed=self.seed_generator)
        pred_noises = self.network(
            [self.q_sample(images, steps, noises), steps], training=False
        )
        self.loss_tracker.update_state(tf.reduce_mean(tf.square(noises - pred_noises)))
        return {"loss": self.loss_tracker.result()}

    # -- sampling ----------------------------------------------------------

    def _predict_x0_and_noise(self, x, step):
        """Predict the noise at timestep `step`, and x0 clipped to [-1, 1].

        The noise is recomputed from the clipped x0, so that x, x0 and the noise
        stay consistent: x = sqrt(alpha_bar) x0 + sqrt(1 - alpha_bar) noise.
        """
        steps = tf.fill([tf.shape(x)[0]], step)
        pred_noises = self.sampling_network([x, steps], training=False)
        alpha_bar = self._alpha_bars[step]
        pred_images = (x - tf.sqrt(1.0 - alpha_bar) * pred_noises) / tf.sqrt(alpha_bar)
        pred_images = tf.clip_by_value(pred_images, -1.0, 1.0)
        pred_noises = (x - tf.sqrt(alpha_bar) * pred_images) / tf.sqrt(1.0 - alpha_bar)
        return pred_images, pred_noises

    @tf.function(reduce_retracing=True)
    def _ddpm_step(self, x, step, seed):
        """Take one ancestral step x_t -> x_{t-1} with q(x_{t-1} | x_t, x0)."""
        pred_images, _ = self._predict_x0_and_noise(x, step)
        beta = self._betas[step]
        alpha = self._alphas[step]
        alpha_bar = self._alpha_bars[step]
        alpha_bar_prev = tf.where(
            step > 0, self._alpha_bars[tf.maximum(step - 1, 0)], 1.0
        )
        mean = (
            beta * tf.sqrt(alpha_bar_prev) / (1.0 - alpha_bar) * pred_images
            + (1.0 - alpha_bar_prev) * tf.sqrt(alpha) / (1.0 - alpha_bar) * x
        )
        variance = beta * (1.0 - alpha_bar_prev) / (1.0 - alpha_bar)
        noises = tf.random.stateless_normal(tf.shape(x), seed=tf.stack([seed, step]))
        # No noise is added on the last step (step 0), where the variance is 0.
        return mean + tf.sqrt(variance) * noises

    @tf.function(reduce_retracing=True)
    def _ddim_step(self, x, step, prev_step):
        """Take one deterministic DDIM step (eta = 0); prev_step -1 means x0."""
        pred_images, pred_noises = self._predict_x0_and_noise(x, step)
        alpha_bar_prev = tf.where(
            prev_step >= 0, self._alpha_bars[tf.maximum(prev_step, 0)], 1.0
        )
        return (
            tf.sqrt(alpha_bar_prev) * pred_images
            + tf.sqrt(1.0 - alpha_bar_prev) * pred_noises
        )

    def _initial_noise(self, num_images: int, seed: int):
        if num_images < 1:
            raise ValueError(f"num_images={num_images} is invalid; use 1 or more")
        shape = (num_images, *self.image_shape)
        # The second seed word -1 keeps x_T apart from the per-step noise draws.
        return tf.random.stateless_normal(shape, seed=tf.constant([seed, -1]))

    def sample_ddpm(
        self, num_images: int, seed: int = 0, frames: int = 0
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Sample with the full ancestral DDPM chain over all T timesteps.

        Returns float32 images of shape (num_images, H, W, C) in [0, 1]. With
        frames >= 2, returns (images, frame_stack), where frame_stack has shape
        (frames, num_images, H, W, C) and runs from x_T to x_0 in [0, 1].
        The same seed gives the same images.
        """
        timesteps = np.arange(self.config.timesteps - 1, -1, -1, dtype=np.int32)
        x = self._initial_noise(num_images, seed)
        seed_tensor = tf.constant(seed, tf.int32)

        def step_fn(x, position):
            return self._ddpm_step(x, tf.constant(timesteps[position]), seed_tensor)

        return self._run_chain(x, len(timesteps), step_fn, frames)

    def sample_ddim(
        self, num_images: int, steps: int = 50, seed: int = 0, frames: int = 0
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Sample with deterministic DDIM (eta = 0) over `steps` timesteps.

        Returns images and optional frames as in `sample_ddpm`. For fixed
        weights, the result depends only on seed (for x_T) and steps.
        """
        timesteps = ddim_timesteps(self.config.timesteps, steps)
        previous = np.append(timesteps[1:], -1).astype(np.int32)
        x = self._initial_noise(num_images, seed)

        def step_fn(x, position):
            return self._ddim_step(
                x, tf.constant(timesteps[position]), tf.constant(previous[position])
            )

        return self._run_chain(x, len(timesteps), step_fn, frames)

    def _run_chain(self, x, num_steps: int, step_fn, frames: int):
        if frames == 1 or frames < 0 or frames > num_steps + 1:
            raise ValueError(
                f"frames={frames} is invalid; use 0 for no frames, or 2 to "
                f"{num_steps + 1} (the chain's states from x_T to x_0)"
            )
        # Chain positions after which a frame is kept; position -1 is x_T.
        keep = set(np.linspace(-1, num_steps - 1, frames).round().astype(int))
        frame_list = [to_unit_range(x)] if -1 in keep else []
        for position in range(num_steps):
            x = step_fn(x, position)
            if position in keep:
                frame_list.append(to_unit_range(x))
        images = to_unit_range(x)
        if frames == 0:
            return images
        return images, np.stack(frame_list)


def to_unit_range(images) -> np.ndarray:
    """Map images from [-1, 1] to float32 [0, 1], clipping outliers."""
    return np.clip((np.asarray(images, dtype=np.float32) + 1.0) / 2.0, 0.0, 1.0)


def scale_images(images: np.ndarray) -> np.ndarray:
    """Map uint8 images in [0, 255] to float32 in [-1, 1]."""
    return np.asarray(images, dtype=np.float32) / 127.5 - 1.0


def build_ddpm(
    image_shape: tuple[int, int, int], config: DDPMConfig, seed: int = 0
) -> DDPM:
    """Build and compile a DDPM with Adam at config.learning_rate."""
    model = DDPM(image_shape, config, seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
    return model


def training_dataset(
    images: np.ndarray, config: DDPMConfig, seed: int = 0
) -> tf.data.Dataset:
    """Batch uint8 images (first config.train_limit of them), shuffled, in [-1, 1].

    Scaling happens per batch, so no float copy of the whole array is made.
    """
    images = images[: config.train_limit]
    dataset = tf.data.Dataset.from_tensor_slices(images)
    dataset = dataset.shuffle(min(len(images), 10_000), seed=seed)
    dataset = dataset.batch(
        config.batch_size, drop_remainder=len(images) >= config.batch_size
    )
    dataset = dataset.map(lambda batch: tf.cast(batch, tf.float32) / 127.5 - 1.0)
    return dataset.prefetch(tf.data.AUTOTUNE)
