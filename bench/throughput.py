"""Autoencoder training throughput: inside the Prefect task vs a bare fit().

Trains the denoising autoencoder for one epoch on the whole Fashion-MNIST
training set, alternating the two ways, and prints images per second for
each run and the median ratio. The task run includes everything the pipeline
adds to training: Prefect logging, the progress artifact, the CSV history,
TensorBoard logs and the epoch checkpoint.

    .venv/bin/python bench/throughput.py [--repeats 3] [--images 60000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="genlab-bench-"))

from prefect import flow  # noqa: E402

from genlab.config import AutoencoderConfig  # noqa: E402
from genlab.data import load_dataset, save_dataset_npz, subsample  # noqa: E402
from genlab.inputs import image_batches  # noqa: E402
from genlab.models.autoencoder import build_denoising_autoencoder  # noqa: E402
from tasks.autoencoder import train_autoencoder  # noqa: E402
from tasks.storage import file_ref  # noqa: E402

CONFIG = AutoencoderConfig(epochs=1)


def bare_fit(dataset, seed: int) -> float:
    """Return images per second of model.fit() with the pipeline's input code."""
    autoencoder, _ = build_denoising_autoencoder(dataset.image_shape, CONFIG, seed)
    batches = image_batches(
        dataset.x_train, CONFIG.batch_size, target="images", shuffle_seed=seed
    )
    started = time.perf_counter()
    autoencoder.fit(batches, epochs=CONFIG.epochs, verbose=0, shuffle=False)
    return len(dataset.x_train) * CONFIG.epochs / (time.perf_counter() - started)


@flow(name="bench-throughput")
def pipeline_fit(data: dict, seed: int, artifacts_dir: str) -> float:
    """Return images per second reported by the train-autoencoder task."""
    result = train_autoencoder.with_options(refresh_cache=True)(
        data, CONFIG, seed, artifacts_dir
    )
    return result["images_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="pairs of runs")
    parser.add_argument("--images", type=int, default=60_000, help="training images")
    args = parser.parse_args()

    dataset = subsample(load_dataset("fashion_mnist"), args.images, 1000)
    artifacts = tempfile.mkdtemp(prefix="genlab-bench-artifacts-")
    path = os.path.join(artifacts, "data.npz")
    save_dataset_npz(dataset, path)
    data = file_ref(path)

    # One unmeasured run of each builds TensorFlow's kernels and Prefect's server.
    bare_fit(dataset, seed=99)
    pipeline_fit(data, 99, artifacts)

    ratios = []
    for repeat in range(args.repeats):
        pipeline = pipeline_fit(data, repeat, artifacts)
        bare = bare_fit(dataset, seed=repeat)
        ratios.append(pipeline / bare)
        print(
            f"run {repeat + 1}: pipeline {pipeline:.0f} img/s, bare fit {bare:.0f} "
            f"img/s, ratio {pipeline / bare:.3f}",
            flush=True,
        )
    print(
        f"median ratio pipeline/bare over {args.repeats} pairs: "
        f"{statistics.median(ratios):.3f} (min {min(ratios):.3f}, "
        f"max {max(ratios):.3f})"
    )


if __name__ == "__main__":
    main()
