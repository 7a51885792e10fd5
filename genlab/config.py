"""Hyperparameters as frozen dataclasses, and the smoke/quick/full profiles.

A profile fixes every setting of a study run. Tasks receive these dataclasses as
inputs, so Prefect's cache keys change whenever any hyperparameter changes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

from genlab.errors import ConfigError


@dataclass(frozen=True)
class AutoencoderConfig:
    """Denoising autoencoder: GaussianNoise, Conv2D, MaxPool, Dense coding layer."""

    noise_stddev: float = 0.1
    filters: int = 32
    kernel_size: int = 3
    coding_units: int = 512
    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 1e-3  # Nadam

    def __post_init__(self) -> None:
        require_positive(self, "filters", "kernel_size", "coding_units", "epochs")
        require_positive(self, "batch_size", "learning_rate")
        if self.noise_stddev < 0:
            raise ConfigError(
                f"noise_stddev={self.noise_stddev} is negative; use 0 or more"
            )


@dataclass(frozen=True)
class ClassifierConfig:
    """Classifier on a small labelled sample, built on the encoder's layers.

    The fine-tuned variant first trains the head with the encoder frozen for
    `head_warmup_epochs`, then trains every layer at `fine_tune_learning_rate`
    for the remaining epochs, so all three variants get `epochs` epochs.
    """

    labels: int = 500
    epochs: int = 40
    batch_size: int = 32
    learning_rate: float = 1e-3
    head_warmup_epochs: int = 10
    fine_tune_learning_rate: float = 1e-4

    def __post_init__(self) -> None:
        require_positive(self, "labels", "epochs", "batch_size", "learning_rate")
        require_positive(self, "fine_tune_learning_rate")
        if not 0 <= self.head_warmup_epochs < self.epochs:
            raise ConfigError(
                f"head_warmup_epochs={self.head_warmup_epochs} must be in "
                f"0..{self.epochs - 1} (less than epochs={self.epochs})"
            )


@dataclass(frozen=True)
class PictureConfig:
    """How many images the inspection pictures show."""

    denoising_images: int = 10
    coding_neurons: int = 32
    images_per_neuron: int = 8


@dataclass(frozen=True)
class Profile:
    """Every setting of one study run; `name` is smoke, quick or full."""

    name: str
    train_limit: int | None  # None uses the whole training set
    test_limit: int | None
    seeds: int
    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    pictures: PictureConfig = field(default_factory=PictureConfig)

    def __post_init__(self) -> None:
        require_positive(self, "seeds")
        for name in ("train_limit", "test_limit"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"{name}={value} must be positive or None")

    def with_seeds(self, seeds: int | None) -> Profile:
        if seeds is None:
            return self
        if seeds < 1:
            raise ConfigError(f"--seeds {seeds} is invalid; use 1 or more")
        return dataclasses.replace(self, seeds=seeds)


def require_positive(config: object, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if not value > 0:
            raise ConfigError(
                f"{type(config).__name__}.{name}={value} is invalid; "
                "use a positive value"
            )


PROFILES: dict[str, Profile] = {
    # Seconds per task: a few hundred images, one epoch, two seeds. For tests.
    "smoke": Profile(
        name="smoke",
        train_limit=600,
        test_limit=300,
        seeds=2,
        autoencoder=AutoencoderConfig(epochs=1),
        classifier=ClassifierConfig(
            labels=100, epochs=3, head_warmup_epochs=1, batch_size=32
        ),
        pictures=PictureConfig(denoising_images=8, coding_neurons=32),
    ),
    # The whole training set with few epochs: the study on 2 CPU cores.
    "quick": Profile(
        name="quick",
        train_limit=None,
        test_limit=None,
        seeds=5,
        autoencoder=AutoencoderConfig(epochs=3),  # 10 in the published setting
        classifier=ClassifierConfig(epochs=30, head_warmup_epochs=10),
    ),
    # Published settings: 10 autoencoder epochs; meant for a GPU.
    "full": Profile(
        name="full",
        train_limit=None,
        test_limit=None,
        seeds=10,
        autoencoder=AutoencoderConfig(epochs=10),
        classifier=ClassifierConfig(epochs=60, head_warmup_epochs=20),
    ),
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ConfigError(
            f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}"
        ) from None


def config_digest(*parts: object) -> str:
    """Return a short stable hash of dataclasses and plain values, for file names."""

    def encode(value: object) -> object:
        if dataclasses.is_dataclass(value):
            return {type(value).__name__: dataclasses.asdict(value)}
        return value

    text = json.dumps([encode(part) for part in parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]
