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
from genlab.model_configs import (
    FULL_DDPM_CONFIG,
    CGANConfig,
    DCGANConfig,
    DDPMConfig,
    VAEConfig,
    require_positive,
)


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

    def architecture(self) -> AutoencoderConfig:
        """Return the config with the training fields at their defaults.

        The classifiers reuse only the encoder's architecture, so keying them on
        this copy keeps them cached when only the autoencoder's training changes.
        """
        defaults = AutoencoderConfig()
        return dataclasses.replace(
            self,
            epochs=defaults.epochs,
            batch_size=defaults.batch_size,
            learning_rate=defaults.learning_rate,
        )

    def __post_init__(self) -> None:
        require_positive(self, "filters", "kernel_size", "coding_units", "epochs")
        require_positive(self, "batch_size", "learning_rate")
        if self.noise_stddev < 0:
            raise ConfigError(
                f"noise_stddev={self.noise_stddev} is negative; use 0 or more"
            )


# The classifier trained from random weights, on the frozen pretrained
# encoder, and on the pretrained encoder fine-tuned.
VARIANTS = ("scratch", "frozen", "fine_tuned")


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
class MeasureConfig:
    """Settings for measuring generators against the evaluation classifier.

    `images` generated images and as many real test images enter each Fréchet
    distance. Sampling time is measured on batches of `timing_batch` images
    after one warm-up batch.
    """

    images: int = 2000
    timing_batch: int = 100
    evaluation_epochs: int = 5
    evaluation_batch_size: int = 128
    grid_images: int = 64

    def __post_init__(self) -> None:
        require_positive(self, "images", "timing_batch", "evaluation_epochs")
        require_positive(self, "evaluation_batch_size", "grid_images")


@dataclass(frozen=True)
class GenerativeConfig:
    """Generative branch: the VAE, DCGANs with and without replay, the cGAN.

    The plain and replay DCGANs share `dcgan` and differ only in
    `replay_fraction`, so they have the same architecture and budget.
    `gan_train_limit` caps the training images of the DCGANs, which run
    2 x `gan_seeds` times.
    """

    vae: VAEConfig = field(default_factory=VAEConfig)
    dcgan: DCGANConfig = field(default_factory=DCGANConfig)
    replay_fraction: float = 0.5
    gan_seeds: int = 3
    gan_train_limit: int | None = None
    cgan: CGANConfig = field(default_factory=CGANConfig)
    measure: MeasureConfig = field(default_factory=MeasureConfig)

    def __post_init__(self) -> None:
        require_positive(self, "gan_seeds", "replay_fraction")
        # Building the replay config checks the fraction against the buffer.
        self.replay_dcgan()

    def replay_dcgan(self) -> DCGANConfig:
        return dataclasses.replace(self.dcgan, replay_fraction=self.replay_fraction)


STABLE_DIFFUSION_MODES = ("auto", "random", "off")


@dataclass(frozen=True)
class DiffusionConfig:
    """Diffusion branch: the DDPM trained here, and KerasCV Stable Diffusion.

    samplers are "ancestral" (all T steps) or "ddim_<steps>". Stable Diffusion
    runs in one of three modes. "auto" uses the weights in the Keras cache and
    downloads them where a network exists; when that fails, the summary gets a
    skip row. "random" runs the same pipeline on untrained weights, which
    measures speed but renders noise. "off" skips it.
    """

    ddpm: DDPMConfig = field(default_factory=DDPMConfig)
    samplers: tuple[str, ...] = ("ancestral", "ddim_50", "ddim_20")
    strip_frames: int = 10
    stable_diffusion: str = "auto"
    prompt: str = "a salamander reading a book"
    sd_seed: int = 0
    sd_steps: int = 25
    sd_image_size: int = 512
    sd_batch_size: int = 1

    def __post_init__(self) -> None:
        require_positive(self, "strip_frames", "sd_steps", "sd_image_size")
        require_positive(self, "sd_batch_size")
        if self.stable_diffusion not in STABLE_DIFFUSION_MODES:
            raise ConfigError(
                f"stable_diffusion={self.stable_diffusion!r} is invalid; use one "
                f"of {', '.join(STABLE_DIFFUSION_MODES)}"
            )
        if not self.prompt.strip():
            raise ConfigError("the Stable Diffusion prompt is empty; pass a prompt")
        if self.sd_image_size % 128:
            raise ConfigError(
                f"Stable Diffusion image size {self.sd_image_size} is invalid; "
                "KerasCV takes multiples of 128, such as 128 or 512"
            )
        for sampler in self.samplers:
            if sampler != "ancestral" and not (
                sampler.startswith("ddim_") and sampler[5:].isdigit()
            ):
                raise ConfigError(
                    f"sampler {sampler!r} is invalid; use ancestral or ddim_<steps>"
                )


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
    generative: GenerativeConfig = field(default_factory=GenerativeConfig)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)

    def __post_init__(self) -> None:
        require_positive(self, "seeds")
        for name in ("train_limit", "test_limit"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"{name}={value} must be positive or None")

    def with_overrides(
        self,
        seeds: int | None = None,
        labels: int | None = None,
        autoencoder_epochs: int | None = None,
        stable_diffusion: str | None = None,
        prompt: str | None = None,
        sd_image_size: int | None = None,
    ) -> Profile:
        """Return the profile with the command line's overrides; None keeps a value.

        Raises ConfigError naming the option and a valid range.
        """
        for option, value in (
            ("--labels", labels),
            ("--autoencoder-epochs", autoencoder_epochs),
            ("--sd-image-size", sd_image_size),
        ):
            if value is not None and value < 1:
                raise ConfigError(f"{option} {value} is invalid; use 1 or more")
        profile = self.with_seeds(seeds).with_stable_diffusion(
            stable_diffusion, prompt, sd_image_size
        )
        if labels is not None:
            profile = dataclasses.replace(
                profile,
                classifier=dataclasses.replace(profile.classifier, labels=labels),
            )
        if autoencoder_epochs is not None:
            profile = dataclasses.replace(
                profile,
                autoencoder=dataclasses.replace(
                    profile.autoencoder, epochs=autoencoder_epochs
                ),
            )
        return profile

    def with_stable_diffusion(
        self,
        mode: str | None = None,
        prompt: str | None = None,
        image_size: int | None = None,
    ) -> Profile:
        """Return the profile with the Stable Diffusion mode, prompt or size set."""
        changes = {}
        if mode is not None:
            changes["stable_diffusion"] = mode
        if prompt is not None:
            changes["prompt"] = prompt
        if image_size is not None:
            changes["sd_image_size"] = image_size
        if not changes:
            return self
        return dataclasses.replace(
            self, diffusion=dataclasses.replace(self.diffusion, **changes)
        )

    def with_seeds(self, seeds: int | None) -> Profile:
        if seeds is None:
            return self
        if seeds < 1:
            raise ConfigError(f"--seeds {seeds} is invalid; use 1 or more")
        return dataclasses.replace(self, seeds=seeds)


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
        generative=GenerativeConfig(
            vae=VAEConfig(filters=8, dense_units=32, epochs=1),
            dcgan=DCGANConfig(filters=8, latent_dim=16, epochs=1, batch_size=64),
            gan_seeds=2,
            cgan=CGANConfig(filters=8, latent_dim=16, embedding_dim=8, epochs=1),
            measure=MeasureConfig(
                images=200, timing_batch=20, evaluation_epochs=1, grid_images=16
            ),
        ),
        diffusion=DiffusionConfig(
            ddpm=DDPMConfig(
                timesteps=20,
                filters=8,
                channel_multipliers=(1, 2),
                groups=4,
                embedding_dim=16,
                epochs=1,
                train_limit=None,
            ),
            samplers=("ancestral", "ddim_5"),
            strip_frames=5,
            stable_diffusion="off",
        ),
    ),
    # The whole training set with few epochs: the study on 2 CPU cores.
    "quick": Profile(
        name="quick",
        train_limit=None,
        test_limit=None,
        seeds=5,
        autoencoder=AutoencoderConfig(epochs=3),  # 10 in the published setting
        classifier=ClassifierConfig(epochs=30, head_warmup_epochs=10),
        generative=GenerativeConfig(
            vae=VAEConfig(epochs=5),  # ~30 give sharper samples
            # 32 filters train ~7x faster than the DCGAN paper's 64 on a CPU.
            dcgan=DCGANConfig(filters=32, epochs=2),  # ~25 for sharp samples
            gan_train_limit=30_000,
            cgan=CGANConfig(filters=32, epochs=3),
        ),
        diffusion=DiffusionConfig(
            # T=100 instead of the published 1000, and 16 filters instead of
            # 128, so training and the ancestral chain over the 2,000 measured
            # images fit a CPU run (about 0.002 s per image and step here).
            ddpm=DDPMConfig(timesteps=100, filters=16, epochs=2, train_limit=None),
        ),
    ),
    # Published settings: 10 autoencoder epochs; meant for a GPU.
    "full": Profile(
        name="full",
        train_limit=None,
        test_limit=None,
        seeds=10,
        autoencoder=AutoencoderConfig(epochs=10),
        classifier=ClassifierConfig(epochs=60, head_warmup_epochs=20),
        generative=GenerativeConfig(
            vae=VAEConfig(epochs=30),
            dcgan=DCGANConfig(epochs=25),
            gan_seeds=5,
            cgan=CGANConfig(epochs=25),
            measure=MeasureConfig(images=10_000, evaluation_epochs=10),
        ),
        diffusion=DiffusionConfig(ddpm=FULL_DDPM_CONFIG, sd_steps=50),
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
