"""The `genlab` command line: run the study as a Prefect flow."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Keep Prefect's database, logs and cached results with the project the command
# runs in, unless the user chose a PREFECT_HOME (or a server) already.
os.environ.setdefault("PREFECT_HOME", str(Path.cwd() / ".prefect"))

from genlab.config import PROFILES, get_profile  # noqa: E402
from genlab.data import DATASETS  # noqa: E402
from genlab.errors import ConfigError, GenlabError  # noqa: E402

EXIT_USAGE = 2
EXIT_FAILED = 1


class OneLineParser(argparse.ArgumentParser):
    """Argument parser whose errors are one line that points to --help."""

    def error(self, message: str):
        self.exit(
            EXIT_USAGE, f"{self.prog}: error: {message}; run `{self.prog} --help`\n"
        )


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="genlab",
        description=(
            "Study autoencoders, GANs and diffusion models as cached Prefect flows."
        ),
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser(
        "run",
        help="run the study and print its summary table",
        description=(
            "Run the study as a Prefect flow. Prints the summary table, and the "
            "path of the summary CSV as the last line."
        ),
    )
    run.add_argument(
        "--dataset",
        choices=DATASETS,
        default="cifar10",
        help="dataset to study (default: cifar10, downloaded when not found locally)",
    )
    run.add_argument(
        "--profile",
        choices=tuple(PROFILES),
        default="quick",
        help="smoke: seconds, for tests; quick: a CPU run; full: published settings",
    )
    run.add_argument(
        "--data-dir",
        type=Path,
        help="folder with the dataset files (CIFAR-10 tarball or batches, idx files)",
    )
    run.add_argument(
        "--artifacts-dir",
        type=Path,
        default=Path("artifacts"),
        help="folder for models, pictures and summaries (default: ./artifacts)",
    )
    run.add_argument(
        "--seeds",
        type=int,
        help="number of classifier seeds (default: the profile's, 5 in quick)",
    )
    run.add_argument(
        "--labels",
        type=int,
        help="labelled training images per classifier (default: the profile's, 500)",
    )
    run.add_argument(
        "--autoencoder-epochs",
        type=int,
        help="denoising autoencoder epochs (default: the profile's, 3 in quick)",
    )
    run.add_argument(
        "--sd-image-size",
        type=int,
        help="Stable Diffusion image size in pixels, a multiple of 128 (default 512)",
    )
    run.add_argument(
        "--parts",
        nargs="+",
        choices=("representation", "generative", "diffusion"),
        help="study parts to run (default: all three)",
    )
    run.add_argument(
        "--stable-diffusion",
        choices=("auto", "random", "off"),
        help=(
            "auto: cached or downloaded weights, skipped offline; random: "
            "untrained weights, for speed only; off (default: the profile's)"
        ),
    )
    run.add_argument("--prompt", help="Stable Diffusion prompt")
    run.add_argument(
        "--task-runner",
        choices=("thread", "dask"),
        default="thread",
        help="thread: 2 threads here (default); dask: prefect-dask's DaskTaskRunner",
    )
    run.add_argument(
        "--dask-address",
        help="scheduler of an existing Dask cluster (default: a local cluster)",
    )
    run.add_argument(
        "--workers",
        type=int,
        default=2,
        help="threads, or local Dask worker processes (default 2)",
    )
    run.add_argument(
        "--refresh",
        action="store_true",
        help="ignore cached task results and train again",
    )

    sample = commands.add_parser(
        "sample",
        help="draw images from a saved generator into a PNG grid",
        description=(
            "Load a generator saved by a study (.keras) and save n images as a "
            "PNG grid. Prints the PNG's path."
        ),
    )
    sample.add_argument("--model", type=Path, required=True, help="a .keras generator")
    sample.add_argument(
        "--n", type=int, default=16, help="number of images (default 16)"
    )
    sample.add_argument(
        "--label",
        type=int,
        help="class index for a conditional GAN (default: cycle through classes)",
    )
    sample.add_argument(
        "--sampler",
        default=None,
        help="DDPM sampler: ancestral or ddim_<steps> (default ddim_50)",
    )
    sample.add_argument("--seed", type=int, default=0, help="latent seed (default 0)")
    sample.add_argument(
        "--output",
        type=Path,
        help="PNG path (default: the model's name with -samples.png beside it)",
    )
    return parser


def sample_command(args: argparse.Namespace) -> int:
    if args.n < 1:
        raise ConfigError(f"--n {args.n} is invalid; use 1 or more images")
    if not args.model.is_file():
        raise ConfigError(f"model {args.model} not found; pass a .keras file")
    import zipfile

    if not zipfile.is_zipfile(args.model):
        raise ConfigError(
            f"cannot load {args.model}: not a .keras zip archive (truncated or "
            "corrupt); pass --model with an intact .keras file, or rerun the study "
            "with --refresh"
        )
    output = args.output or args.model.with_name(args.model.stem + "-samples.png")

    import math

    import numpy as np

    from genlab.generators import generate_images, load_generator
    from genlab.models.cgan import ConditionalGAN
    from genlab.plots_generative import save_image_grid

    try:
        model = load_generator(args.model)
    except (ValueError, OSError, zipfile.BadZipFile) as error:
        raise ConfigError(f"cannot load {args.model}: {error}") from None
    labels = None
    if args.label is not None:
        if not isinstance(model, ConditionalGAN):
            raise ConfigError(
                f"--label needs a conditional GAN; {args.model} is a "
                f"{type(model).__name__}"
            )
        if not 0 <= args.label < model.num_classes:
            raise ConfigError(
                f"--label {args.label} is out of range 0..{model.num_classes - 1}"
            )
        labels = np.full(args.n, args.label)
    try:
        images = generate_images(
            model, args.n, seed=args.seed, labels=labels, sampler=args.sampler
        )
    except ValueError as error:
        raise ConfigError(str(error)) from None
    save_image_grid(images, output, rows=max(1, math.isqrt(args.n)))
    print(output)
    return 0


def check_artifacts_dir(path: Path) -> Path:
    """Create the artifacts folder and prove it is writable, or raise ConfigError."""
    path = path.expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise ConfigError(
            f"artifacts folder {path} is a file; pass --artifacts-dir with a folder"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-check-"):
            pass
    except OSError as error:
        raise ConfigError(
            f"artifacts folder {path} is not writable ({error.strerror}); "
            "pass --artifacts-dir with a writable folder"
        ) from None
    return path


def check_label_budget(dataset, settings, args: argparse.Namespace) -> None:
    """Raise ConfigError unless every seed's balanced label sample can be drawn."""
    from genlab.data import balanced_sample, subsample

    if args.parts and "representation" not in args.parts:
        return
    budget = settings.classifier.labels
    source = (
        f"--labels {budget}"
        if args.labels is not None
        else f"the {settings.name} profile's label budget {budget}"
    )
    train_labels = subsample(dataset, settings.train_limit, None).y_train
    if budget > len(train_labels):
        raise ConfigError(
            f"{source} is larger than the {len(train_labels)} training images; "
            f"pass --labels {len(train_labels)} or fewer"
        )
    if budget < dataset.num_classes:
        raise ConfigError(
            f"{source} is smaller than the {dataset.num_classes} classes; "
            f"pass --labels {dataset.num_classes} or more"
        )
    for seed in range(settings.seeds):
        try:
            balanced_sample(train_labels, budget, dataset.num_classes, seed)
        except ValueError as error:
            raise ConfigError(f"{source}: {error}") from None


def run_command(args: argparse.Namespace) -> int:
    # Check everything cheap before Prefect starts, so bad input costs a line
    # of output rather than a failed flow run.
    settings = get_profile(args.profile).with_overrides(
        args.seeds,
        args.labels,
        args.autoencoder_epochs,
        args.stable_diffusion,
        args.prompt,
        args.sd_image_size,
    )
    if args.workers < 1:
        raise ConfigError(f"--workers {args.workers} is invalid; use 1 or more")
    artifacts_dir = check_artifacts_dir(args.artifacts_dir)
    from genlab.data import load_dataset

    check_label_budget(load_dataset(args.dataset, args.data_dir), settings, args)

    import pandas as pd

    from flows.runners import make_task_runner
    from flows.study import ALL_PARTS, genlab_study
    from genlab.summary import format_table

    runner = make_task_runner(args.task_runner, args.dask_address, args.workers)
    csv_path = genlab_study.with_options(task_runner=runner)(
        dataset=args.dataset,
        profile=args.profile,
        data_dir=str(args.data_dir.expanduser().resolve()) if args.data_dir else None,
        artifacts_dir=str(artifacts_dir),
        seeds=args.seeds,
        labels=args.labels,
        autoencoder_epochs=args.autoencoder_epochs,
        refresh=args.refresh,
        parts=tuple(args.parts) if args.parts else ALL_PARTS,
        stable_diffusion=args.stable_diffusion,
        prompt=args.prompt,
        sd_image_size=args.sd_image_size,
    )
    print(format_table(pd.read_csv(csv_path)))
    print(csv_path)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            return run_command(args)
        if args.command == "sample":
            return sample_command(args)
    except GenlabError as error:
        print(f"genlab: error: {error}", file=sys.stderr)
        return EXIT_USAGE if isinstance(error, ConfigError) else EXIT_FAILED
    except KeyboardInterrupt:
        print("genlab: interrupted", file=sys.stderr)
        return 130
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
