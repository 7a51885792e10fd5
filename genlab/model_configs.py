"""Hyperparameters of the generative models, one frozen dataclass per model.

They live apart from the Keras models so that the profiles and the command line
can use them without importing TensorFlow.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from genlab.errors import ConfigError


def require_positive(config: object, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if not value > 0:
            raise ConfigError(
                f"{type(config).__name__}.{name}={value} is invalid; "
                "use a positive value"
            )


@dataclass(frozen=True)
class VAEConfig:
    """VAE hyperparameters. The loss is reconstruction + kl_weight * KL."""

    latent_dim: int = 16
    filters: int = 32  # in the first convolution, twice as many in the second
    dense_units: int = 128
    epochs: int = 10  # an estimate: ~30 give sharper Fashion-MNIST samples
    batch_size: int = 128
    learning_rate: float = 1e-3  # Adam
    kl_weight: float = 1.0  # 1 is the standard VAE, other values a beta-VAE

    def __post_init__(self) -> None:
        require_positive(self, "latent_dim", "filters", "dense_units", "epochs")
        require_positive(self, "batch_size", "learning_rate", "kl_weight")


@dataclass(frozen=True)
class DCGANConfig:
    """DCGAN hyperparameters, with the usual DCGAN Adam settings as defaults.

    With replay_fraction > 0, that share of each discriminator fake batch is
    drawn from a buffer of `replay_buffer_size` earlier fakes.
    """

    latent_dim: int = 100
    filters: int = 64  # in the discriminator's first layer, mirrored by the generator
    epochs: int = 5  # an estimate: ~25-50 give sharper Fashion-MNIST samples
    batch_size: int = 128
    d_learning_rate: float = 2e-4
    g_learning_rate: float = 2e-4
    beta_1: float = 0.5
    leaky_relu_slope: float = 0.2
    replay_fraction: float = 0.0
    replay_buffer_size: int = 2048

    def __post_init__(self) -> None:
        require_positive(self, "latent_dim", "filters", "epochs", "batch_size")
        require_positive(self, "d_learning_rate", "g_learning_rate")
        require_positive(self, "replay_buffer_size")
        if not 0.0 <= self.replay_fraction < 1.0:
            raise ConfigError(
                f"replay_fraction={self.replay_fraction} is invalid; use a value "
                "in [0, 1) so every batch keeps some fresh fakes"
            )
        if self.replay_fraction > 0 and self.replay_buffer_size < self.batch_size:
            raise ConfigError(
                f"replay_buffer_size={self.replay_buffer_size} is smaller than "
                f"batch_size={self.batch_size}; use at least the batch size"
            )


@dataclass(frozen=True)
class CGANConfig:
    """Conditional DCGAN hyperparameters. The label is embedded in both networks."""

    latent_dim: int = 100
    filters: int = 64
    embedding_dim: int = 50  # size of the generator's label embedding
    epochs: int = 5  # an estimate: ~25-50 give sharper Fashion-MNIST samples
    batch_size: int = 128
    d_learning_rate: float = 2e-4
    g_learning_rate: float = 2e-4
    beta_1: float = 0.5
    leaky_relu_slope: float = 0.2

    def __post_init__(self) -> None:
        require_positive(self, "latent_dim", "filters", "embedding_dim", "epochs")
        require_positive(self, "batch_size", "d_learning_rate", "g_learning_rate")


@dataclass(frozen=True)
class DDPMConfig:
    """Hyperparameters of the DDPM: schedule, U-Net size and training.

    The defaults are the quick profile for Fashion-MNIST on a few CPU cores; see
    FULL_DDPM_CONFIG for settings close to the published ones.
    """

    timesteps: int = 1000  # T
    cosine_offset: float = 0.008  # s in the cosine schedule
    max_beta: float = 0.999
    filters: int = 32  # channels at full resolution; FULL_DDPM_CONFIG uses 128
    # One U-Net level per entry, each with filters * multiplier channels; every
    # level after the first halves the resolution (28 -> 14 -> 7).
    channel_multipliers: tuple[int, ...] = (1, 2, 2)
    blocks_per_level: int = 1  # residual blocks per level; FULL_DDPM_CONFIG uses 2
    groups: int = 8  # GroupNormalization groups; must divide every channel count
    embedding_dim: int = 128  # sinusoidal timestep embedding size
    epochs: int = 2  # use ~50+ for sharp samples
    batch_size: int = 128
    learning_rate: float = 2e-4  # Adam
    ema_decay: float = 0.999  # 0 disables the EMA copy of the weights
    train_limit: int | None = 20_000  # training images used; None uses all

    def __post_init__(self) -> None:
        positive = ("timesteps", "filters", "blocks_per_level", "groups")
        positive += ("embedding_dim", "epochs", "batch_size", "learning_rate")
        for name in positive:
            value = getattr(self, name)
            if not value > 0:
                raise ConfigError(
                    f"DDPMConfig.{name}={value} is invalid; use a positive value"
                )
        if self.timesteps < 2:
            raise ConfigError(
                f"DDPMConfig.timesteps={self.timesteps} is invalid; use 2 or more"
            )
        if self.embedding_dim % 2:
            raise ConfigError(
                f"DDPMConfig.embedding_dim={self.embedding_dim} must be even "
                "(half sine, half cosine features)"
            )
        if not self.channel_multipliers or min(self.channel_multipliers) < 1:
            raise ConfigError(
                f"DDPMConfig.channel_multipliers={self.channel_multipliers} is "
                "invalid; use one or more positive integers such as (1, 2, 2)"
            )
        for multiplier in self.channel_multipliers:
            if (self.filters * multiplier) % self.groups:
                raise ConfigError(
                    f"DDPMConfig.groups={self.groups} does not divide "
                    f"{self.filters * multiplier} channels (filters={self.filters} "
                    f"x multiplier {multiplier}); change groups or filters"
                )
        if not 0 < self.max_beta < 1:
            raise ConfigError(f"DDPMConfig.max_beta={self.max_beta} must be in (0, 1)")
        if self.cosine_offset < 0:
            raise ConfigError(
                f"DDPMConfig.cosine_offset={self.cosine_offset} must be 0 or more"
            )
        if not 0 <= self.ema_decay < 1:
            raise ConfigError(
                f"DDPMConfig.ema_decay={self.ema_decay} must be in [0, 1)"
            )
        if self.train_limit is not None and self.train_limit <= 0:
            raise ConfigError(
                f"DDPMConfig.train_limit={self.train_limit} must be positive or None"
            )

    def to_dict(self) -> dict:
        """Return the fields as JSON-friendly values (tuples become lists)."""
        values = dataclasses.asdict(self)
        values["channel_multipliers"] = list(self.channel_multipliers)
        return values

    @classmethod
    def from_dict(cls, values: dict) -> DDPMConfig:
        values = dict(values)
        values["channel_multipliers"] = tuple(values["channel_multipliers"])
        return cls(**values)


# Larger settings for a GPU: T=1000, 128 base filters and two residual blocks per
# level, the scale of published small-image DDPMs. 28x28 images allow only two
# downsamples, so the multipliers stop at 7x7.
FULL_DDPM_CONFIG = DDPMConfig(
    timesteps=1000,
    filters=128,
    channel_multipliers=(1, 2, 2),
    blocks_per_level=2,
    groups=32,
    embedding_dim=256,
    epochs=100,
    batch_size=128,
    learning_rate=2e-4,
    ema_decay=0.9999,
    train_limit=None,
)


# ---------------------------------------------------------------------------
# Noise schedule
