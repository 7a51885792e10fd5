"""Training throughput of each model: inside its Prefect task vs a bare fit().

For every model the quick profile trains, this alternates two runs, each in a
fresh Python process: the model's training task inside a Prefect flow (with
its run logger, progress artifact, CSV history, TensorBoard logs and epoch
checkpoint), and a bare `model.fit()` of the same model on the same tf.data
input with no callbacks. Both time only the fit itself, so the figure
compares what the pipeline adds to training, not process start-up. A fresh
process per run keeps one run's threads, memory and traced graphs out of the
next.

    .venv/bin/python bench/throughput.py [--models autoencoder,vae] \
        [--repeats 3] [--images 6000] [--server]

Without --server, each pipeline run starts Prefect's temporary server, whose
start-up takes about one core for the first 15 seconds and so competes with
short trainings on a 2-core machine. With --server, one Prefect server on
127.0.0.1 serves every pipeline run, as in a deployment.

The autoencoder uses `--autoencoder-images` (all 60,000 by default); the
500-label classifier uses its own labelled sample. Prints one line per run
and, per model, the median pipeline/bare ratio with its range.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from rerun import start_server  # bench/ is the script's folder, so on sys.path

MODELS = ("autoencoder", "classifier", "vae", "dcgan", "cgan", "ddpm")


def _bare_fit(model, batches, epochs: int) -> float:
    started = time.perf_counter()
    model.fit(batches, epochs=epochs, verbose=0, shuffle=False)
    return time.perf_counter() - started


def measure(model_name: str, way: str, images: int) -> dict:
    """Train `model_name` once, the `way` given; return images per second."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    if "PREFECT_API_URL" not in os.environ:
        os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="genlab-bench-prefect-")

    from prefect import flow

    from genlab.config import PROFILES
    from genlab.data import balanced_sample, load_dataset, save_dataset_npz, subsample
    from genlab.inputs import image_batches
    from tasks.storage import file_ref

    profile = PROFILES["quick"]
    dataset = subsample(load_dataset("fashion_mnist"), images, 1000)
    # A new folder per run puts new paths into every task's cache key, so the
    # pipeline runs train even against a shared server's cache.
    artifacts = tempfile.mkdtemp(prefix="genlab-bench-artifacts-")
    path = os.path.join(artifacts, "data.npz")
    save_dataset_npz(dataset, path)
    data = file_ref(path)
    generative = profile.generative
    seed = 0

    if model_name == "autoencoder":
        from genlab.models.autoencoder import build_denoising_autoencoder
        from tasks.autoencoder import train_autoencoder

        config = dataclasses.replace(profile.autoencoder, epochs=1)
        seen = len(dataset.x_train) * config.epochs

        def pipeline():
            return train_autoencoder(data, config, seed, artifacts)["train_seconds"]

        def bare():
            model, _ = build_denoising_autoencoder(dataset.image_shape, config, seed)
            batches = image_batches(
                dataset.x_train,
                config.batch_size,
                target="images",
                shuffle_seed=seed,
            )
            return _bare_fit(model, batches, config.epochs)

    elif model_name == "classifier":
        from genlab.models.classifier import (
            build_classifier,
            compile_classifier,
            training_phases,
        )
        from tasks.classifier import train_classifier

        config = profile.classifier
        seen = config.labels * config.epochs

        def pipeline():
            return train_classifier(
                data, "scratch", seed, config, profile.autoencoder, None, artifacts
            )["train_seconds"]

        def bare():
            indices = balanced_sample(
                dataset.y_train, config.labels, dataset.num_classes, seed
            )
            model, encoder_part = build_classifier(
                dataset.image_shape,
                dataset.num_classes,
                profile.autoencoder,
                seed=seed,
            )
            batches = image_batches(
                dataset.x_train[indices],
                config.batch_size,
                labels=dataset.y_train[indices],
                target="labels",
                shuffle_seed=seed,
            )
            started = time.perf_counter()
            for phase in training_phases("scratch", config):
                encoder_part.trainable = phase.encoder_trainable
                compile_classifier(model, phase.learning_rate)
                model.fit(
                    batches,
                    initial_epoch=phase.first_epoch,
                    epochs=phase.end_epoch,
                    verbose=0,
                    shuffle=False,
                )
            return time.perf_counter() - started

    elif model_name in ("vae", "dcgan", "cgan"):
        from genlab.models.cgan import ConditionalGAN
        from genlab.models.gan import DCGAN
        from genlab.models.vae import VAE
        from tasks.generative import train_cgan, train_dcgan, train_vae

        config = dataclasses.replace(getattr(generative, model_name), epochs=1)
        seen = len(dataset.x_train) * config.epochs

        def pipeline():
            if model_name == "vae":
                result = train_vae(data, config, seed, artifacts)
            elif model_name == "dcgan":
                result = train_dcgan(
                    data, config, seed, None, "dcgan", artifacts, artifacts
                )
            else:
                result = train_cgan(data, config, seed, artifacts, artifacts)
            return result["train_seconds"]

        def bare():
            if model_name == "vae":
                model = VAE(dataset.image_shape, config, seed=seed)
                batches = image_batches(
                    dataset.x_train, config.batch_size, shuffle_seed=seed
                )
            elif model_name == "dcgan":
                model = DCGAN(dataset.image_shape, config, seed=seed)
                batches = image_batches(
                    dataset.x_train,
                    config.batch_size,
                    shuffle_seed=seed,
                    value_range="tanh",
                )
            else:
                model = ConditionalGAN(
                    dataset.image_shape, dataset.num_classes, config, seed=seed
                )
                batches = image_batches(
                    dataset.x_train,
                    config.batch_size,
                    labels=dataset.y_train,
                    target="labels",
                    shuffle_seed=seed,
                    value_range="tanh",
                )
            model.compile()
            return _bare_fit(model, batches, config.epochs)

    elif model_name == "ddpm":
        from genlab.models.ddpm import build_ddpm, training_dataset
        from tasks.diffusion import train_ddpm

        config = dataclasses.replace(profile.diffusion.ddpm, epochs=1)
        seen = len(dataset.x_train[: config.train_limit]) * config.epochs

        def pipeline():
            return train_ddpm(data, config, seed, artifacts)["train_seconds"]

        def bare():
            model = build_ddpm(dataset.image_shape, config, seed=seed)
            batches = training_dataset(dataset.x_train, config, seed=seed)
            return _bare_fit(model, batches, config.epochs)

    else:
        raise ValueError(f"unknown model {model_name!r}; use one of {MODELS}")

    if way == "pipeline":
        seconds = flow(name="bench-throughput")(pipeline)()
    else:
        seconds = bare()
    return {"model": model_name, "way": way, "images_per_second": seen / seconds}


def run_one(model: str, way: str, images: int, env: dict) -> float:
    command = [sys.executable, __file__, "--one", f"{model}:{way}"]
    command += ["--images", str(images)]
    output = subprocess.run(
        command, check=True, capture_output=True, text=True, env=env
    )
    return json.loads(output.stdout.strip().splitlines()[-1])["images_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--repeats", type=int, default=3, help="pairs of runs")
    parser.add_argument("--images", type=int, default=6000, help="training images")
    parser.add_argument("--autoencoder-images", type=int, default=60_000)
    parser.add_argument("--server", action="store_true", help="one shared server")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.one:
        model, way = args.one.split(":")
        print(json.dumps(measure(model, way, args.images)))
        return

    models = args.models.split(",")
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {', '.join(MODELS)}")
    env = dict(os.environ, PREFECT_SERVER_ANALYTICS_ENABLED="false")
    env.pop("PREFECT_API_URL", None)
    server = None
    if args.server:
        env["PREFECT_HOME"] = tempfile.mkdtemp(prefix="genlab-bench-prefect-")
        server, env["PREFECT_API_URL"] = start_server(env)
    try:
        summary = compare(models, args, env)
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait()
    mode = "shared server" if args.server else "temporary server per run"
    print(f"\nmodel        median pipeline/bare  (min-max), {mode}")
    for model, median, low, high in summary:
        print(f"{model:11s}  {median:.3f}  ({low:.3f}-{high:.3f})")


def compare(models: list[str], args: argparse.Namespace, env: dict) -> list[tuple]:
    summary = []
    for model in models:
        images = args.autoencoder_images if model == "autoencoder" else args.images
        ratios = []
        for repeat in range(args.repeats):
            # Alternate which way goes first, so a drift in the machine's
            # speed does not always favour the same side.
            ways = ("pipeline", "bare") if repeat % 2 == 0 else ("bare", "pipeline")
            speed = {way: run_one(model, way, images, env) for way in ways}
            ratios.append(speed["pipeline"] / speed["bare"])
            print(
                f"{model} pair {repeat + 1}: pipeline {speed['pipeline']:.0f} img/s, "
                f"bare fit {speed['bare']:.0f} img/s, ratio {ratios[-1]:.3f}",
                flush=True,
            )
        summary.append((model, statistics.median(ratios), min(ratios), max(ratios)))
    return summary


if __name__ == "__main__":
    main()
