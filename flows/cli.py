"""The `genlab` command line: run the study as a Prefect flow."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

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
        "--refresh",
        action="store_true",
        help="ignore cached task results and train again",
    )
    return parser


def check_artifacts_dir(path: Path) -> Path:
    """Create the artifacts folder and prove it is writable, or raise ConfigError."""
    path = path.expanduser().resolve()
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
    get_profile(args.profile).with_seeds(args.seeds)
    artifacts_dir = check_artifacts_dir(args.artifacts_dir)
    from genlab.data import load_dataset

    load_dataset(args.dataset, args.data_dir)

    import pandas as pd

    from flows.study import genlab_study
    from genlab.summary import format_table

    csv_path = genlab_study(
        dataset=args.dataset,
        profile=args.profile,
        data_dir=str(args.data_dir.expanduser().resolve()) if args.data_dir else None,
        artifacts_dir=str(artifacts_dir),
        seeds=args.seeds,
        refresh=args.refresh,
    )
    print(format_table(pd.read_csv(csv_path)))
    print(csv_path)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            return run_command(args)
    except GenlabError as error:
        print(f"genlab: error: {error}", file=sys.stderr)
        return EXIT_USAGE if isinstance(error, ConfigError) else EXIT_FAILED
    except KeyboardInterrupt:
        print("genlab: interrupted", file=sys.stderr)
        return 130
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
