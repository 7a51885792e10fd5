"""Two genlab runs at once, with different parameters, into one artifacts folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

REPOSITORY = Path(__file__).resolve().parents[1]


def start_study(artifacts: Path, prefect_home: Path, seeds: int) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flows.cli",
            "run",
            "--dataset",
            "fashion_mnist",
            "--profile",
            "smoke",
            "--parts",
            "representation",
            "--seeds",
            str(seeds),
            "--artifacts-dir",
            str(artifacts),
        ],
        cwd=REPOSITORY,
        env={
            **os.environ,
            "PREFECT_HOME": str(prefect_home),
            "PYTHONPATH": str(REPOSITORY),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_parallel_runs_keep_their_files(tmp_path):
    artifacts = tmp_path / "artifacts"
    # Each run gets its own Prefect database, as two users on one machine would.
    runs = {
        seeds: start_study(artifacts, tmp_path / f"prefect-{seeds}", seeds)
        for seeds in (2, 3)
    }
    outputs = {seeds: run.communicate(timeout=900) for seeds, run in runs.items()}

    csv_paths = {}
    for seeds, (stdout, stderr) in outputs.items():
        assert runs[seeds].returncode == 0, stderr[-3000:]
        csv_paths[seeds] = Path(stdout.strip().splitlines()[-1])
    assert csv_paths[2].parent != csv_paths[3].parent
    for seeds, path in csv_paths.items():
        frame = pd.read_csv(path)
        accuracies = frame[frame["metric"] == "test_accuracy"]
        assert set(accuracies["seeds"]) == {seeds}, path
        assert (path.parent / "denoising.png").stat().st_size > 0
    leftovers = [path for path in artifacts.rglob(".*") if path.is_file()]
    assert leftovers == [], f"temporary files left behind: {leftovers}"
