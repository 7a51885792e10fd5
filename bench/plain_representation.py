"""The representation study as a plain script: no Prefect, no cache, no threads.

What a user would write by hand to get the same results as
`genlab run --parts representation`. It loads the dataset, trains the
denoising autoencoder, tests it and draws its two pictures. Then it trains
the three classifier variants on 500 labels for each seed, and writes the
models and a summary CSV.
It uses the same model code, data and profile settings as the pipeline, and
runs everything in order in one thread. bench/orchestration.py times it
against the pipeline.

    .venv/bin/python bench/plain_representation.py OUTPUT_DIR \
        [--profile quick] [--seeds 1] [--autoencoder-epochs 1]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from genlab.config import VARIANTS, get_profile  # noqa: E402
from genlab.data import balanced_sample, load_dataset, subsample  # noqa: E402
from genlab.inputs import image_batches  # noqa: E402
from genlab.models.autoencoder import build_denoising_autoencoder  # noqa: E402
from genlab.models.classifier import (  # noqa: E402
    build_classifier,
    compile_classifier,
    training_phases,
)
from genlab.plots import save_denoising_figure, save_neuron_figure  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir")
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--seeds", type=int)
    parser.add_argument("--autoencoder-epochs", type=int)
    args = parser.parse_args()

    profile = get_profile(args.profile).with_overrides(
        seeds=args.seeds, autoencoder_epochs=args.autoencoder_epochs
    )
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    dataset = subsample(
        load_dataset(args.dataset), profile.train_limit, profile.test_limit
    )
    rows = []

    config = profile.autoencoder
    autoencoder, encoder = build_denoising_autoencoder(dataset.image_shape, config, 0)
    started = time.perf_counter()
    autoencoder.fit(
        image_batches(
            dataset.x_train,
            config.batch_size,
            target="images",
            shuffle_seed=0,
        ),
        epochs=config.epochs,
        verbose=0,
        shuffle=False,
    )
    seconds = time.perf_counter() - started
    bce, mse = autoencoder.evaluate(
        image_batches(dataset.x_test, config.batch_size, target="images"), verbose=0
    )
    autoencoder.save(output / "autoencoder.keras")
    encoder.save(output / "encoder.keras")
    for metric, value in (("test_bce", bce), ("test_mse", mse)):
        rows.append(("autoencoder", "denoising", metric, value, seconds))

    pictures = profile.pictures
    originals = dataset.x_test[: pictures.denoising_images].astype("float32") / 255.0
    rng = np.random.default_rng(0)
    noisy = np.clip(
        originals + rng.normal(0, config.noise_stddev, originals.shape), 0, 1
    )
    noisy = noisy.astype("float32")
    denoised = autoencoder.predict(noisy, verbose=0)
    save_denoising_figure(originals, noisy, denoised, output / "denoising.png")
    codings = encoder.predict(image_batches(dataset.x_test, 256), verbose=0)
    neurons = np.argsort(codings.var(axis=0))[::-1][: pictures.coding_neurons]
    top = [
        dataset.x_test[np.argsort(codings[:, n])[::-1][: pictures.images_per_neuron]]
        for n in neurons
    ]
    save_neuron_figure(top, neurons.tolist(), output / "coding_neurons.png", "")

    classifier = profile.classifier
    for seed in range(profile.seeds):
        indices = balanced_sample(
            dataset.y_train, classifier.labels, dataset.num_classes, seed
        )
        batches = image_batches(
            dataset.x_train[indices],
            classifier.batch_size,
            labels=dataset.y_train[indices],
            target="labels",
            shuffle_seed=seed,
        )
        for variant in VARIANTS:
            model, encoder_part = build_classifier(
                dataset.image_shape,
                dataset.num_classes,
                config.architecture(),
                seed=seed,
                pretrained_encoder=None if variant == "scratch" else encoder,
            )
            started = time.perf_counter()
            for phase in training_phases(variant, classifier):
                encoder_part.trainable = phase.encoder_trainable
                compile_classifier(model, phase.learning_rate)
                model.fit(
                    batches,
                    initial_epoch=phase.first_epoch,
                    epochs=phase.end_epoch,
                    verbose=0,
                    shuffle=False,
                )
            seconds = time.perf_counter() - started
            _, accuracy = model.evaluate(
                image_batches(
                    dataset.x_test, 256, labels=dataset.y_test, target="labels"
                ),
                verbose=0,
            )
            rows.append(
                (
                    "classifier",
                    f"{variant} seed {seed}",
                    "test_accuracy",
                    accuracy,
                    seconds,
                )
            )

    summary = pd.DataFrame(
        rows, columns=["step", "variant", "metric", "value", "seconds"]
    )
    summary.to_csv(output / "summary.csv", index=False)
    print(summary.to_string(index=False))


if __name__ == "__main__":
    main()
