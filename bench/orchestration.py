"""Orchestration overhead: `genlab run --parts representation` vs a plain script.

Alternates the two whole commands, each in a fresh process and a fresh
output folder, and reports their wall times and the ratio pipeline/plain per
pair. The pipeline run includes everything a user waits for: Python and
TensorFlow imports, Prefect's temporary server, the cache lookups (all
misses: every run writes to a new folder), the run logger, artifacts and the
summary. The plain script (bench/plain_representation.py) trains the same
models on the same data with the same settings, in order, in one thread.

    .venv/bin/python bench/orchestration.py [--repeats 3] [--seeds 1] \
        [--autoencoder-epochs 1] [--profile quick] [--dataset fashion_mnist] \
        [--server]

With --server, one Prefect server on 127.0.0.1 (as `make server` starts)
serves every pipeline run, so the runs skip the temporary server's start.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rerun import start_server  # bench/ is the script's folder, so on sys.path

ROOT = Path(__file__).resolve().parent.parent


def timed(command: list[str], env: dict) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="pairs of runs")
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--autoencoder-epochs", type=int, default=1)
    parser.add_argument("--server", action="store_true", help="one shared server")
    args = parser.parse_args()

    server, api_url = None, None
    server_env = dict(os.environ, PREFECT_SERVER_ANALYTICS_ENABLED="false")
    if args.server:
        server_env["PREFECT_HOME"] = tempfile.mkdtemp(prefix="genlab-bench-prefect-")
        server, api_url = start_server(server_env)
    try:
        compare(args, api_url)
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait()


def compare(args: argparse.Namespace, api_url: str | None) -> None:
    bin_dir = Path(sys.executable).parent
    settings = [
        "--dataset",
        args.dataset,
        "--profile",
        args.profile,
        "--seeds",
        str(args.seeds),
        "--autoencoder-epochs",
        str(args.autoencoder_epochs),
    ]
    ratios = []
    for repeat in range(args.repeats):
        work = Path(tempfile.mkdtemp(prefix="genlab-bench-orchestration-"))
        env = dict(
            os.environ,
            PREFECT_HOME=str(work / "prefect"),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            TF_CPP_MIN_LOG_LEVEL="2",
        )
        env.pop("PREFECT_API_URL", None)  # a temporary server, as for a new user
        if api_url:
            env["PREFECT_API_URL"] = api_url
        commands = {
            "pipeline": [
                str(bin_dir / "genlab"),
                "run",
                "--parts",
                "representation",
                "--artifacts-dir",
                str(work / "artifacts"),
                *settings,
            ],
            "plain": [
                sys.executable,
                str(ROOT / "bench" / "plain_representation.py"),
                str(work / "plain"),
                *settings,
            ],
        }
        # Alternate which goes first so a drift in machine speed cancels out.
        order = ("pipeline", "plain") if repeat % 2 == 0 else ("plain", "pipeline")
        seconds = {name: timed(commands[name], env) for name in order}
        ratios.append(seconds["pipeline"] / seconds["plain"])
        print(
            f"pair {repeat + 1}: pipeline {seconds['pipeline']:.1f} s, plain "
            f"{seconds['plain']:.1f} s, ratio {ratios[-1]:.3f}",
            flush=True,
        )
        shutil.rmtree(work)
    print(
        f"median pipeline/plain over {args.repeats} pairs: "
        f"{statistics.median(ratios):.3f} (min {min(ratios):.3f}, "
        f"max {max(ratios):.3f})"
    )


if __name__ == "__main__":
    main()
