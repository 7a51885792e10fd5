"""Autoencoder training speed under CPU settings, each in a fresh process.

Every setting trains the quick profile's denoising autoencoder on the first
`--images` Fashion-MNIST training images for `--epochs` epochs and reports the
steady-state images per second (the last epoch, so graph tracing is left
out) and the test MSE. Settings run round-robin, `--repeats` times each, in a
new Python process every time, so no run inherits another's threads,
caches or memory.

    .venv/bin/python bench/training_settings.py \
        [--settings baseline,bf16,batch256] [--repeats 3] [--images 30000]

Settings: baseline is float32, batch 128 and the uint8 tf.data pipeline that
scales each batch. bf16 sets Keras' mixed_bfloat16 policy. batch64, batch256
and batch512 change the batch size. float_data scales the whole set to
float32 once and drops the per-batch map. numpy passes arrays to fit()
instead of tf.data. threads1 uses one intra-op thread and interop1 one
inter-op thread. scale_once and parallel_map change the per-batch map to
scale once per batch, or to run with parallel calls.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SETTINGS = (
    "baseline",
    "bf16",
    "batch64",
    "batch256",
    "batch512",
    "float_data",
    "numpy",
    "threads1",
    "interop1",
    "scale_once",
    "parallel_map",
)


def measure(setting: str, images: int, epochs: int) -> dict:
    """Train once under `setting` in this process; return speed and test MSE."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    if setting == "threads1":
        tf.config.threading.set_intra_op_parallelism_threads(1)
    if setting == "interop1":
        tf.config.threading.set_inter_op_parallelism_threads(1)

    import dataclasses

    import keras

    from genlab.config import PROFILES
    from genlab.data import load_dataset, subsample
    from genlab.inputs import image_batches
    from genlab.models.autoencoder import build_denoising_autoencoder

    config = dataclasses.replace(PROFILES["quick"].autoencoder, epochs=epochs)
    if setting.startswith("batch"):
        config = dataclasses.replace(config, batch_size=int(setting[5:]))
    if setting == "bf16":
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    dataset = subsample(load_dataset("fashion_mnist"), images, 10_000)
    autoencoder, _ = build_denoising_autoencoder(dataset.image_shape, config, seed=0)

    if setting == "float_data":
        floats = dataset.x_train.astype("float32") / 255.0
        batches = (
            tf.data.Dataset.from_tensor_slices((floats, floats))
            .shuffle(len(floats), seed=0)
            .batch(config.batch_size)
            .prefetch(tf.data.AUTOTUNE)
        )
        fit_args = {"x": batches}
    elif setting in ("scale_once", "parallel_map"):
        parallel = tf.data.AUTOTUNE if setting == "parallel_map" else None

        def scale(x):
            x = tf.cast(x, tf.float32) / 255.0
            return x, x

        batches = (
            tf.data.Dataset.from_tensor_slices(dataset.x_train)
            .shuffle(len(dataset.x_train), seed=0)
            .batch(config.batch_size)
            .map(scale, num_parallel_calls=parallel)
            .prefetch(tf.data.AUTOTUNE)
        )
        fit_args = {"x": batches}
    elif setting == "numpy":
        floats = dataset.x_train.astype("float32") / 255.0
        fit_args = {"x": floats, "y": floats, "batch_size": config.batch_size}
    else:
        fit_args = {
            "x": image_batches(
                dataset.x_train,
                config.batch_size,
                target="images",
                shuffle_seed=0,
            )
        }

    epoch_seconds = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            epoch_seconds.append(time.perf_counter() - self.started)

    autoencoder.fit(
        **fit_args, epochs=epochs, verbose=0, shuffle=True, callbacks=[EpochTimer()]
    )
    test = image_batches(dataset.x_test, 256, target="images")
    _, mse = autoencoder.evaluate(test, verbose=0)
    return {
        "setting": setting,
        "images_per_second": len(dataset.x_train) / epoch_seconds[-1],
        "first_epoch_seconds": epoch_seconds[0],
        "test_mse": float(mse),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--images", type=int, default=30_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.one:
        print(json.dumps(measure(args.one, args.images, args.epochs)))
        return

    settings = args.settings.split(",")
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        parser.error(f"unknown settings {unknown}; choose from {', '.join(SETTINGS)}")
    results: dict[str, list[dict]] = {setting: [] for setting in settings}
    for repeat in range(args.repeats):
        for setting in settings:
            command = [
                sys.executable,
                __file__,
                "--one",
                setting,
                "--images",
                str(args.images),
                "--epochs",
                str(args.epochs),
            ]
            output = subprocess.run(command, check=True, capture_output=True, text=True)
            result = json.loads(output.stdout.strip().splitlines()[-1])
            results[setting].append(result)
            print(
                f"repeat {repeat + 1} {setting}: "
                f"{result['images_per_second']:.0f} img/s, "
                f"test MSE {result['test_mse']:.5f}",
                flush=True,
            )

    baseline = results.get("baseline")
    print("\nsetting       median img/s  (min-max)        ratio  test MSE (median)")
    for setting, runs in results.items():
        speeds = [run["images_per_second"] for run in runs]
        line = (
            f"{setting:12s}  {statistics.median(speeds):8.0f}  "
            f"({min(speeds):.0f}-{max(speeds):.0f})"
        )
        if baseline:
            # Pair each run with the baseline run of the same round.
            ratios = [
                run["images_per_second"] / base["images_per_second"]
                for run, base in zip(runs, baseline, strict=True)
            ]
            line += f"  {statistics.median(ratios):6.3f}"
        mse = statistics.median(run["test_mse"] for run in runs)
        print(f"{line}  {mse:.5f}")


if __name__ == "__main__":
    main()
