"""Small-label classifier that reuses the autoencoder's encoder layers."""

from __future__ import annotations

from typing import NamedTuple

import keras
from keras import layers

from genlab.config import VARIANTS, AutoencoderConfig, ClassifierConfig
from genlab.models.autoencoder import build_denoising_autoencoder


def build_classifier(
    image_shape: tuple[int, int, int],
    num_classes: int,
    config: AutoencoderConfig,
    seed: int,
    pretrained_encoder: keras.Model | None = None,
) -> tuple[keras.Model, keras.Model]:
    """Build (classifier, encoder part): encoder layers to the coding layer + softmax.

    Without a pretrained encoder the encoder layers are freshly initialised, so
    the scratch variant has exactly the same architecture as the pretrained ones.
    The pretrained encoder's weights are copied, never shared, so training one
    classifier cannot change another's starting point.
    """
    _, encoder = build_denoising_autoencoder(image_shape, config, seed=seed)
    if pretrained_encoder is not None:
        encoder.set_weights(pretrained_encoder.get_weights())
    encoder.name = "encoder"

    inputs = keras.Input(shape=image_shape, name="images")
    codings = encoder(inputs)
    outputs = layers.Dense(
        num_classes,
        activation="softmax",
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed * 1000 + 9),
        name="head",
    )(codings)
    classifier = keras.Model(inputs, outputs, name="classifier")
    return classifier, encoder


def compile_classifier(model: keras.Model, learning_rate: float) -> None:
    model.compile(
        optimizer=keras.optimizers.Nadam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


class TrainingPhase(NamedTuple):
    """One fit() call: which layers train, at what rate, over which epochs."""

    encoder_trainable: bool
    learning_rate: float
    first_epoch: int
    end_epoch: int


def training_phases(variant: str, config: ClassifierConfig) -> list[TrainingPhase]:
    """Return the training schedule of a variant; each gets config.epochs epochs."""
    if variant == "scratch":
        return [TrainingPhase(True, config.learning_rate, 0, config.epochs)]
    if variant == "frozen":
        return [TrainingPhase(False, config.learning_rate, 0, config.epochs)]
    if variant == "fine_tuned":
        # A random head on top of pretrained features sends large gradients
        # into the encoder, so the head is warmed up before the encoder trains.
        warmup = config.head_warmup_epochs
        return [
            TrainingPhase(False, config.learning_rate, 0, warmup),
            TrainingPhase(True, config.fine_tune_learning_rate, warmup, config.epochs),
        ]
    raise ValueError(f"unknown variant {variant!r}; use one of {VARIANTS}")
