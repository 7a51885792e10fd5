"""Small-label classifier task: scratch, frozen and fine-tuned variants."""

from __future__ import annotations

import time
from pathlib import Path

from prefect import get_run_logger, task

from genlab.config import VARIANTS, AutoencoderConfig, ClassifierConfig, config_digest
from genlab.data import balanced_sample, load_dataset_npz
from genlab.errors import ConfigError
from tasks.autoencoder import load_model
from tasks.imports import heavy_imports
from tasks.storage import CACHED_TASK_OPTIONS, FileRef


@task(name="train-classifier", **CACHED_TASK_OPTIONS)
def train_classifier(
    data: FileRef,
    variant: str,
    seed: int,
    config: ClassifierConfig,
    autoencoder_config: AutoencoderConfig,
    autoencoder: dict | None = None,
    artifacts_dir: str | None = None,
) -> dict:
    """Train one classifier variant on a balanced labelled sample; test it.

    The scratch variant trains every layer from random weights. The frozen
    variant trains only the softmax head on the pretrained encoder. The
    fine_tuned variant trains the head first, then every layer at a lower
    learning rate.
    """
    # Imported here, so that a fully cached run never loads TensorFlow.
    with heavy_imports():
        from genlab.inputs import image_batches
        from genlab.models.classifier import (
            build_classifier,
            compile_classifier,
            training_phases,
        )
        from tasks.callbacks import training_callbacks

    if variant not in VARIANTS:
        raise ConfigError(f"unknown variant {variant!r}; use one of {VARIANTS}")
    if (autoencoder is None) != (variant == "scratch"):
        raise ConfigError(
            f"variant {variant!r}: pass the trained autoencoder exactly when the "
            "variant is pretrained (frozen or fine_tuned)"
        )
    logger = get_run_logger()
    dataset = load_dataset_npz(data["path"])
    try:
        indices = balanced_sample(
            dataset.y_train, config.labels, dataset.num_classes, seed
        )
    except ValueError as error:
        raise ConfigError(str(error)) from None

    pretrained = None
    if autoencoder is not None:
        pretrained = load_model(autoencoder["encoder"])
    model, encoder_part = build_classifier(
        dataset.image_shape,
        dataset.num_classes,
        autoencoder_config,
        seed=seed,
        pretrained_encoder=pretrained,
    )
    train_batches = image_batches(
        dataset.x_train[indices],
        config.batch_size,
        labels=dataset.y_train[indices],
        target="labels",
        shuffle_seed=seed,
    )
    name = f"classifier {variant} seed {seed}"
    log_dir = None
    if artifacts_dir is not None:
        digest = config_digest(config, autoencoder_config, data["sha256"], autoencoder)
        log_dir = (
            Path(artifacts_dir)
            / "logs"
            / dataset.name
            / f"classifier-{variant}-seed{seed}-{digest}"
        )
    callbacks = training_callbacks(name, config.epochs, log_dir)

    started = time.perf_counter()
    for phase in training_phases(variant, config):
        encoder_part.trainable = phase.encoder_trainable
        compile_classifier(model, phase.learning_rate)
        model.fit(
            train_batches,
            initial_epoch=phase.first_epoch,
            epochs=phase.end_epoch,
            verbose=0,
            shuffle=False,  # the tf.data pipeline reshuffles every epoch
            callbacks=callbacks,
        )
    seconds = time.perf_counter() - started

    test_batches = image_batches(
        dataset.x_test, 256, labels=dataset.y_test, target="labels"
    )
    _, accuracy = model.evaluate(test_batches, verbose=0)
    logger.info("%s: test accuracy %.4f", name, accuracy)
    return {
        "variant": variant,
        "seed": seed,
        "labels": len(indices),
        "test_accuracy": float(accuracy),
        "train_seconds": seconds,
    }
