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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    output = args.output or args.model.with_name(args.model.stem + "-samples.png")

    import math
    import zipfile

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


def run_command(args: argparse.Namespace) -> int:
    # Check everything cheap before Prefect starts, so bad input costs a line
    # of output rather than a failed flow run.
    get_profile(args.profile).with_seeds(args.seeds).with_stable_diffusion(
        args.stable_diffusion, args.prompt
    )
    artifacts_dir = check_artifacts_dir(args.artifacts_dir)
    from genlab.data import load_dataset

    load_dataset(args.dataset, args.data_dir)

    import pandas as pd

    from flows.study import ALL_PARTS, genlab_study
    from genlab.summary import format_table

    csv_path = genlab_study(
        dataset=args.dataset,
        profile=args.profile,
        data_dir=str(args.data_dir.expanduser().resolve()) if args.data_dir else None,
        artifacts_dir=str(artifacts_dir),
        seeds=args.seeds,
        refresh=args.refresh,
        parts=tuple(args.parts) if args.parts else ALL_PARTS,
        stable_diffusion=args.stable_diffusion,
        prompt=args.prompt,
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
