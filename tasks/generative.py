"""Generative branch tasks: train the VAE and GANs, measure and draw them.

TensorFlow, the Keras models and matplotlib are imported inside the
functions, so that a run whose tasks are all cached never loads them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from prefect import get_run_logger, task

from genlab.config import MeasureConfig, config_digest
from genlab.data import Dataset, load_dataset_npz
from genlab.model_configs import CGANConfig, DCGANConfig, VAEConfig
from tasks.autoencoder import load_model, save_model
from tasks.imports import heavy_imports
from tasks.monitoring import backup_dir_for, exclusive_training, log_dir_for
from tasks.storage import CACHED_TASK_OPTIONS, FileRef, file_ref, write_atomic

if TYPE_CHECKING:
    import keras


def fit_generator(
    model: keras.Model,
    batches,
    epochs: int,
    name: str,
    grid_dir: Path | None = None,
    log_dir: Path | None = None,
    backup_dir: Path | None = None,
) -> tuple[dict, float, list[FileRef]]:
    """Fit a generator with progress logging; return history, seconds, grids.

    With grid_dir, a sample grid for fixed latent vectors is saved after every
    epoch, so the pictures show how training went. log_dir and backup_dir are
    passed to training_callbacks.
    """
    with heavy_imports():
        from genlab.models.callbacks import SampleGridCallback
        from genlab.plots_generative import save_image_grid
        from tasks.callbacks import training_callbacks

    callbacks = training_callbacks(name, epochs, log_dir, backup_dir)
    grids = None
    if grid_dir is not None:
        grids = SampleGridCallback(
            lambda images, path: save_image_grid(images, path, rows=4),
            grid_dir,
            n=16,
            seed=0,
        )
        callbacks.append(grids)
    with exclusive_training(backup_dir):
        started = time.perf_counter()
        history = model.fit(
            batches, epochs=epochs, verbose=0, shuffle=False, callbacks=callbacks
        )
        seconds = time.perf_counter() - started
    losses = {key: float(values[-1]) for key, values in history.history.items()}
    grid_refs = [file_ref(path) for path in grids.saved_paths] if grids else []
    return losses, seconds, grid_refs


def model_path(artifacts_dir: str, dataset: Dataset, name: str, *key: object) -> Path:
    digest = config_digest(*key)
    return Path(artifacts_dir) / "models" / dataset.name / f"{name}-{digest}.keras"


def train_and_save(
    model: keras.Model,
    batches,
    epochs: int,
    name: str,
    path: Path,
    artifacts_dir: str,
    grid_dir: Path | None = None,
) -> dict:
    """Fit a generator, save it to `path`, and return the training result.

    Its logs and epoch checkpoints go to folders named like the model file.
    The result has the model's file reference, the last losses, the training
    seconds and, with grid_dir, the per-epoch sample grids.
    """
    dataset_name = path.parent.name
    losses, seconds, grids = fit_generator(
        model,
        batches,
        epochs,
        name,
        grid_dir,
        log_dir_for(artifacts_dir, dataset_name, path),
        backup_dir_for(artifacts_dir, dataset_name, path),
    )
    result = {
        "model": save_model(model, path),
        "losses": losses,
        "train_seconds": seconds,
    }
    if grid_dir is not None:
        result["epoch_grids"] = grids
    return result


@task(name="train-evaluation-classifier", **CACHED_TASK_OPTIONS)
def train_evaluation_classifier(
    data: FileRef, measure: MeasureConfig, seed: int, artifacts_dir: str
) -> dict:
    """Train the classifier that judges generated images, on all labelled images."""
    with heavy_imports():
        from genlab.generative_metrics import build_evaluation_classifier
        from genlab.inputs import image_batches
        from tasks.callbacks import training_callbacks

    logger = get_run_logger()
    dataset = load_dataset_npz(data["path"])
    model = build_evaluation_classifier(
        dataset.image_shape, dataset.num_classes, seed=seed
    )
    batches = image_batches(
        dataset.x_train,
        measure.evaluation_batch_size,
        labels=dataset.y_train,
        target="labels",
        shuffle_seed=seed,
    )

    path = model_path(
        artifacts_dir, dataset, "evaluator", measure, data["sha256"], seed
    )
    backup_dir = backup_dir_for(artifacts_dir, dataset.name, path)
    with exclusive_training(backup_dir):
        started = time.perf_counter()
        model.fit(
            batches,
            epochs=measure.evaluation_epochs,
            verbose=0,
            shuffle=False,
            callbacks=training_callbacks(
                "evaluation classifier",
                measure.evaluation_epochs,
                log_dir_for(artifacts_dir, dataset.name, path),
                backup_dir,
            ),
        )
        seconds = time.perf_counter() - started

    test = image_batches(dataset.x_test, 256, labels=dataset.y_test, target="labels")
    _, accuracy = model.evaluate(test, verbose=0)
    logger.info("evaluation classifier test accuracy %.4f", accuracy)
    return {
        "model": save_model(model, path),
        "test_accuracy": float(accuracy),
        "train_seconds": seconds,
    }


def _real_subsets(dataset: Dataset, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the first `count` train and test images (fewer if the split is small)."""
    count = min(count, len(dataset.x_train), len(dataset.x_test))
    return dataset.x_train[:count], dataset.x_test[:count]


@task(name="measure-reference-distances", **CACHED_TASK_OPTIONS)
def measure_reference_distances(
    data: FileRef, evaluator: dict, measure: MeasureConfig, seed: int
) -> dict:
    """Measure the floor and ceiling that place every generator's distance.

    The floor is the distance between real train and real test images, the
    best a generator can hope for. The ceiling is the distance between
    uniform noise images and real test images.
    """
    with heavy_imports():
        from genlab.generative_metrics import (
            class_diversity,
            frechet_distance,
            penultimate_features,
            predict_classes,
        )

    dataset = load_dataset_npz(data["path"])
    model = load_model(evaluator["model"])
    real_train, real_test = _real_subsets(dataset, measure.images)
    test_features = penultimate_features(model, real_test)
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, real_test.shape, dtype=np.uint8)
    real_diversity = class_diversity(
        predict_classes(model, real_train), dataset.num_classes
    )
    return {
        "images": len(real_test),
        "real_train": frechet_distance(
            penultimate_features(model, real_train), test_features
        ),
        "uniform_noise": frechet_distance(
            penultimate_features(model, noise), test_features
        ),
        "real_normalized_entropy": real_diversity.normalized_entropy,
        "real_coverage": real_diversity.coverage,
    }


@task(name="train-vae", **CACHED_TASK_OPTIONS)
def train_vae(data: FileRef, config: VAEConfig, seed: int, artifacts_dir: str) -> dict:
    """Train the VAE on the whole training split."""
    with heavy_imports():
        from genlab.inputs import image_batches
        from genlab.models.vae import VAE

    dataset = load_dataset_npz(data["path"])
    model = VAE(dataset.image_shape, config, seed=seed)
    model.compile()
    batches = image_batches(dataset.x_train, config.batch_size, shuffle_seed=seed)
    path = model_path(artifacts_dir, dataset, "vae", config, data["sha256"], seed)
    return train_and_save(model, batches, config.epochs, "vae", path, artifacts_dir)


@task(name="train-dcgan", **CACHED_TASK_OPTIONS)
def train_dcgan(
    data: FileRef,
    config: DCGANConfig,
    seed: int,
    train_limit: int | None,
    name: str,
    artifacts_dir: str,
    output_dir: str,
) -> dict:
    """Train a DCGAN (with replay when config.replay_fraction > 0); grid per epoch."""
    with heavy_imports():
        from genlab.inputs import image_batches
        from genlab.models.gan import DCGAN

    dataset = load_dataset_npz(data["path"])
    model = DCGAN(dataset.image_shape, config, seed=seed)
    model.compile()
    batches = image_batches(
        dataset.x_train[:train_limit],
        config.batch_size,
        shuffle_seed=seed,
        value_range="tanh",
    )
    grid_dir = Path(output_dir) / f"{name}-seed{seed}-epochs"
    path = model_path(
        artifacts_dir, dataset, name, config, data["sha256"], seed, train_limit
    )
    return train_and_save(
        model,
        batches,
        config.epochs,
        f"{name} seed {seed}",
        path,
        artifacts_dir,
        grid_dir,
    )


@task(name="train-cgan", **CACHED_TASK_OPTIONS)
def train_cgan(
    data: FileRef, config: CGANConfig, seed: int, artifacts_dir: str, output_dir: str
) -> dict:
    """Train the conditional GAN on all labelled training images; grid per epoch."""
    with heavy_imports():
        from genlab.inputs import image_batches
        from genlab.models.cgan import ConditionalGAN

    dataset = load_dataset_npz(data["path"])
    model = ConditionalGAN(dataset.image_shape, dataset.num_classes, config, seed=seed)
    model.compile()
    batches = image_batches(
        dataset.x_train,
        config.batch_size,
        labels=dataset.y_train,
        target="labels",
        shuffle_seed=seed,
        value_range="tanh",
    )
    grid_dir = Path(output_dir) / f"cgan-seed{seed}-epochs"
    path = model_path(artifacts_dir, dataset, "cgan", config, data["sha256"], seed)
    return train_and_save(
        model, batches, config.epochs, "cgan", path, artifacts_dir, grid_dir
    )


@task(name="evaluate-generator", **CACHED_TASK_OPTIONS)
def evaluate_generator(
    data: FileRef,
    generator: dict,
    evaluator: dict,
    measure: MeasureConfig,
    seed: int,
    sampler: str | None = None,
) -> dict:
    """Measure a generator: Fréchet distance, class diversity, time per image.

    The Fréchet distance uses the evaluation classifier's penultimate features,
    not Inception's, so it is comparable only within one study. For the
    conditional GAN, also the share of images classified as the requested class.
    """
    with heavy_imports():
        from genlab.generative_metrics import (
            class_diversity,
            conditional_accuracy,
            frechet_distance,
            penultimate_features,
            predict_classes,
        )
        from genlab.generators import generate_images, load_generator, seconds_per_image
        from genlab.models.cgan import ConditionalGAN

    logger = get_run_logger()
    dataset = load_dataset_npz(data["path"])
    model = load_generator(generator["model"]["path"])
    judge = load_model(evaluator["model"])
    _, real_test = _real_subsets(dataset, measure.images)

    requested = None
    if isinstance(model, ConditionalGAN):
        requested = np.arange(len(real_test)) % dataset.num_classes
    started = time.perf_counter()
    generated = generate_images(
        model, len(real_test), seed=seed, labels=requested, sampler=sampler
    )
    generation_seconds = time.perf_counter() - started

    predicted = predict_classes(judge, generated)
    diversity = class_diversity(predicted, dataset.num_classes)
    result = {
        "images": len(generated),
        "frechet_distance": frechet_distance(
            penultimate_features(judge, generated),
            penultimate_features(judge, real_test),
        ),
        "normalized_entropy": diversity.normalized_entropy,
        "coverage": diversity.coverage,
        "seconds_per_image": seconds_per_image(model, measure.timing_batch, sampler),
        "generation_seconds": generation_seconds,
        "train_seconds": generator["train_seconds"],
    }
    if requested is not None:
        accuracy = conditional_accuracy(requested, predicted, dataset.num_classes)
        result["conditional_accuracy"] = accuracy.overall
        result["conditional_accuracy_per_class"] = {
            name: float(value)
            for name, value in zip(dataset.class_names, accuracy.per_class, strict=True)
        }
    logger.info(
        "%s%s: Fréchet distance %.3f, normalized entropy %.3f",
        type(model).__name__,
        f" ({sampler})" if sampler else "",
        result["frechet_distance"],
        result["normalized_entropy"],
    )
    return result


@task(name="plot-vae", **CACHED_TASK_OPTIONS)
def plot_vae(
    data: FileRef, generator: dict, measure: MeasureConfig, output_dir: str
) -> dict:
    """Save a VAE sample grid and a latent interpolation between test images."""
    with heavy_imports():
        from genlab.generators import load_generator
        from genlab.plots_generative import save_image_grid

    dataset = load_dataset_npz(data["path"])
    model = load_generator(generator["model"]["path"])
    samples = model.sample(measure.grid_images, seed=0)
    # Interpolate between the first test images of two different classes.
    first = 0
    second = int(np.flatnonzero(dataset.y_test != dataset.y_test[first])[0])
    unit = dataset.x_test[[first, second]].astype("float32") / 255.0
    line = model.interpolate(unit[0], unit[1], steps=10)
    output = Path(output_dir)
    return {
        "vae_samples": write_atomic(
            output / "vae_samples.png",
            lambda temporary: save_image_grid(samples, temporary, rows=8),
        ),
        "vae_interpolation": write_atomic(
            output / "vae_interpolation.png",
            lambda temporary: save_image_grid(line, temporary, rows=1),
        ),
    }


@task(name="plot-gan-samples", **CACHED_TASK_OPTIONS)
def plot_gan_samples(
    generator: dict, name: str, measure: MeasureConfig, output_dir: str
) -> FileRef:
    """Save a grid of samples from an unconditional GAN."""
    with heavy_imports():
        from genlab.generators import load_generator
        from genlab.plots_generative import save_image_grid

    model = load_generator(generator["model"]["path"])
    samples = model.sample(measure.grid_images, seed=0)
    return write_atomic(
        Path(output_dir) / f"{name}_samples.png",
        lambda temporary: save_image_grid(samples, temporary, rows=8),
    )


@task(name="plot-cgan-classes", **CACHED_TASK_OPTIONS)
def plot_cgan_classes(
    data: FileRef, generator: dict, per_class: int, output_dir: str
) -> FileRef:
    """Save the cGAN grid: one row per class, titled with the class name."""
    with heavy_imports():
        from genlab.generators import load_generator
        from genlab.plots_generative import save_image_grid

    dataset = load_dataset_npz(data["path"])
    model = load_generator(generator["model"]["path"])
    labels = np.repeat(np.arange(dataset.num_classes), per_class)
    images = model.generate(labels, seed=0)
    titles = [
        dataset.class_names[label] if index % per_class == 0 else ""
        for index, label in enumerate(labels)
    ]
    return write_atomic(
        Path(output_dir) / "cgan_classes.png",
        lambda temporary: save_image_grid(
            images, temporary, rows=dataset.num_classes, titles=titles
        ),
    )
