"""Denoising autoencoder tasks: training with test metrics, and its pictures.

TensorFlow, the Keras models and matplotlib are imported inside the tasks, so
that a run whose tasks are all cached never loads them (tasks.storage finds
these imports for the cache key all the same).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from prefect import get_run_logger, task

from genlab.config import AutoencoderConfig, PictureConfig, config_digest
from genlab.data import load_dataset_npz
from tasks.imports import heavy_imports
from tasks.monitoring import backup_dir_for, exclusive_training, log_dir_for
from tasks.storage import (
    CACHED_TASK_OPTIONS,
    FileRef,
    atomic_path,
    file_ref,
    write_atomic,
)

if TYPE_CHECKING:
    import keras


def save_model(model: keras.Model, path: Path) -> FileRef:
    with atomic_path(path, suffix=".keras") as temporary:
        model.save(temporary)
    return file_ref(path)


def load_model(ref: FileRef) -> keras.Model:
    with heavy_imports():
        import keras

    # safe_mode refuses Lambda layers and other deserialised code.
    return keras.models.load_model(ref["path"], safe_mode=True)


@task(name="train-autoencoder", **CACHED_TASK_OPTIONS)
def train_autoencoder(
    data: FileRef, config: AutoencoderConfig, seed: int, artifacts_dir: str
) -> dict:
    """Train the denoising autoencoder on the whole training split; test it."""
    with heavy_imports():
        from genlab.inputs import image_batches
        from genlab.models.autoencoder import build_denoising_autoencoder
        from tasks.callbacks import training_callbacks

    logger = get_run_logger()
    dataset = load_dataset_npz(data["path"])
    autoencoder, encoder = build_denoising_autoencoder(
        dataset.image_shape, config, seed=seed
    )
    train_batches = image_batches(
        dataset.x_train,
        config.batch_size,
        target="images",
        shuffle_seed=seed,
    )
    digest = config_digest(config, data["sha256"], seed)
    model_dir = Path(artifacts_dir) / "models" / dataset.name
    model_file = model_dir / f"autoencoder-{digest}.keras"
    backup_dir = backup_dir_for(artifacts_dir, dataset.name, model_file)
    with exclusive_training(backup_dir):
        started = time.perf_counter()
        history = autoencoder.fit(
            train_batches,
            epochs=config.epochs,
            verbose=0,
            shuffle=False,  # the tf.data pipeline reshuffles every epoch
            callbacks=training_callbacks(
                "autoencoder",
                config.epochs,
                log_dir_for(artifacts_dir, dataset.name, model_file),
                backup_dir,
            ),
        )
        train_seconds = time.perf_counter() - started

    test_batches = image_batches(dataset.x_test, config.batch_size, target="images")
    test_bce, test_mse = autoencoder.evaluate(test_batches, verbose=0)
    logger.info("autoencoder test BCE %.4f, MSE %.5f", test_bce, test_mse)

    return {
        "autoencoder": save_model(autoencoder, model_file),
        "encoder": save_model(encoder, model_dir / f"encoder-{digest}.keras"),
        "test_bce": float(test_bce),
        "test_mse": float(test_mse),
        "train_seconds": train_seconds,
        "images_per_second": len(dataset.x_train) * config.epochs / train_seconds,
        "history": {
            key: [float(value) for value in values]
            for key, values in history.history.items()
        },
    }


@task(name="plot-denoising", **CACHED_TASK_OPTIONS)
def plot_denoising(
    data: FileRef,
    autoencoder: dict,
    noise_stddev: float,
    pictures: PictureConfig,
    seed: int,
    output_dir: str,
) -> FileRef:
    """Save original / noisy / denoised rows for the first test images."""
    with heavy_imports():
        from genlab.plots import save_denoising_figure

    dataset = load_dataset_npz(data["path"])
    model = load_model(autoencoder["autoencoder"])
    originals = dataset.x_test[: pictures.denoising_images].astype("float32") / 255.0
    rng = np.random.default_rng(seed)
    # The same Gaussian noise the model was trained with; clipped for display
    # and as input, because real images never leave [0, 1].
    noisy = np.clip(originals + rng.normal(0.0, noise_stddev, originals.shape), 0, 1)
    noisy = noisy.astype("float32")
    denoised = model.predict(noisy, verbose=0)
    path = Path(output_dir) / "denoising.png"
    return write_atomic(
        path,
        lambda temporary: save_denoising_figure(originals, noisy, denoised, temporary),
    )


@task(name="plot-coding-neurons", **CACHED_TASK_OPTIONS)
def plot_coding_neurons(
    data: FileRef, autoencoder: dict, pictures: PictureConfig, output_dir: str
) -> FileRef:
    """Save, per coding unit, the test images that activate it most.

    Units are ranked by the variance of their activation over the test set,
    so dead or constant ReLU units, which show nothing, are never chosen.
    """
    with heavy_imports():
        from genlab.inputs import image_batches
        from genlab.plots import save_neuron_figure

    dataset = load_dataset_npz(data["path"])
    model = load_model(autoencoder["encoder"])
    codings = model.predict(image_batches(dataset.x_test, 256), verbose=0)
    variances = codings.var(axis=0)
    neuron_ids = np.argsort(variances)[::-1][: pictures.coding_neurons]
    rows = []
    for neuron in neuron_ids:
        top = np.argsort(codings[:, neuron])[::-1][: pictures.images_per_neuron]
        rows.append(dataset.x_test[top])
    title = (
        f"Test images that most activate the {len(neuron_ids)} coding units "
        "with the largest activation variance"
    )
    path = Path(output_dir) / "coding_neurons.png"
    return write_atomic(
        path,
        lambda temporary: save_neuron_figure(
            rows, neuron_ids.tolist(), temporary, title
        ),
    )
