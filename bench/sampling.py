"""Sampling time per image of every trained generator and DDPM sampler.

Loads the generators a study saved under ARTIFACTS_DIR/models/DATASET/ (the
newest file of each kind: vae, dcgan, dcgan_replay, cgan, ddpm), generates
one warm-up batch, then times `--repeats` batches of `--batch` images each.
Prints a markdown table (median seconds per image, with the fastest and
slowest batch) and saves a bar chart with a log scale.

    .venv/bin/python bench/sampling.py artifacts --dataset fashion_mnist \
        [--repeats 5] [--batch 100] [--chart docs/sampling_time.png]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from genlab.config import PROFILES  # noqa: E402
from genlab.generators import generate_images, load_generator  # noqa: E402

KINDS = ("vae", "dcgan", "dcgan_replay", "cgan", "ddpm")


def newest(model_dir: Path, kind: str) -> Path | None:
    # "dcgan-*" must not match "dcgan_replay-*": the kind ends at the dash.
    files = sorted(model_dir.glob(f"{kind}-*.keras"), key=lambda p: p.stat().st_mtime)
    return files[-1] if files else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("artifacts_dir")
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument(
        "--samplers", default=",".join(PROFILES["quick"].diffusion.samplers)
    )
    parser.add_argument("--chart", default="docs/sampling_time.png")
    args = parser.parse_args()

    model_dir = Path(args.artifacts_dir) / "models" / args.dataset
    rows = []
    for kind in KINDS:
        path = newest(model_dir, kind)
        if path is None:
            print(f"no {kind} model in {model_dir}; skipped")
            continue
        model = load_generator(path)
        samplers = args.samplers.split(",") if kind == "ddpm" else [None]
        for sampler in samplers:
            options = {"sampler": sampler, "batch_size": args.batch}
            generate_images(model, args.batch, seed=0, **options)  # traces graphs
            per_image = []
            for repeat in range(args.repeats):
                started = time.perf_counter()
                generate_images(model, args.batch, seed=repeat + 1, **options)
                per_image.append((time.perf_counter() - started) / args.batch)
            name = f"{kind} {sampler}" if sampler else kind
            rows.append(
                (name, statistics.median(per_image), min(per_image), max(per_image))
            )
            print(f"{name}: {rows[-1][1] * 1000:.3f} ms per image", flush=True)

    print(
        f"\n| generator | ms per image (median of {args.repeats} batches of "
        f"{args.batch}) | fastest | slowest |"
    )
    print("|---|---|---|---|")
    for name, median, low, high in rows:
        print(
            f"| {name} | {median * 1000:.3f} | {low * 1000:.3f} | {high * 1000:.3f} |"
        )

    figure, axes = plt.subplots(figsize=(7, 0.5 * len(rows) + 1.2))
    names = [row[0] for row in rows]
    medians = [row[1] * 1000 for row in rows]
    errors = [
        [row[1] * 1000 - row[2] * 1000 for row in rows],
        [row[3] * 1000 - row[1] * 1000 for row in rows],
    ]
    axes.barh(names, medians, xerr=errors, color="tab:blue")
    axes.set_xscale("log")
    axes.invert_yaxis()
    axes.set_xlabel("milliseconds per image (log scale; bars: fastest to slowest)")
    axes.set_title(f"Sampling time per image, {args.dataset}, batches of {args.batch}")
    figure.tight_layout()
    Path(args.chart).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.chart, dpi=100)
    print(f"chart: {args.chart}")


if __name__ == "__main__":
    main()
