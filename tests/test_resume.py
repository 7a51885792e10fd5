"""A study killed with SIGKILL during training resumes from its last epoch."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
EPOCHS = 40
EPOCH_LINE = re.compile(rf"autoencoder epoch (\d+)/{EPOCHS}:")
# The resumed run reshuffles from the restored epoch and restarts the
# optimizer's moments, so its test MSE matches an uninterrupted run only
# approximately. NOTE: 15% relative is a chosen bound, not a measured spread.
MSE_TOLERANCE = 0.15


def study_command(artifacts: Path) -> list[str]:
    return [
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
        "--autoencoder-epochs",
        str(EPOCHS),
        "--artifacts-dir",
        str(artifacts),
    ]


def study_env(prefect_home: Path) -> dict:
    return {
        **os.environ,
        "PREFECT_HOME": str(prefect_home),
        "PYTHONPATH": str(REPOSITORY),
        "PYTHONUNBUFFERED": "1",
    }


def run_to_end(artifacts: Path, prefect_home: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(
        study_command(artifacts),
        cwd=REPOSITORY,
        env=study_env(prefect_home),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def epochs_logged(text: str) -> list[int]:
    return [int(match) for match in EPOCH_LINE.findall(text)]


def autoencoder_mse(stdout: str) -> float:
    frame = pd.read_csv(stdout.strip().splitlines()[-1])
    row = frame[(frame["step"] == "autoencoder") & (frame["metric"] == "test_mse")]
    return float(row["value"].iloc[0])


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory):
    """Kill a study after its second autoencoder epoch, then run it again."""
    artifacts = tmp_path_factory.mktemp("artifacts")
    prefect_home = tmp_path_factory.mktemp("prefect-home")
    process = subprocess.Popen(
        study_command(artifacts),
        cwd=REPOSITORY,
        env=study_env(prefect_home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # so the kill reaches Prefect's server too
    )
    seen: list[int] = []
    deadline = time.monotonic() + 600
    try:
        for line in process.stderr:
            seen += epochs_logged(line)
            if seen and seen[-1] >= 2:
                os.killpg(process.pid, signal.SIGKILL)
                break
            if time.monotonic() > deadline:
                break
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
    checkpoints = list((artifacts / "checkpoints").rglob("*.weights.h5"))
    resumed = run_to_end(artifacts, prefect_home)
    return {
        "seen": seen,
        "returncode": process.returncode,
        "checkpoints": checkpoints,
        "resumed": resumed,
    }


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    return run_to_end(
        tmp_path_factory.mktemp("artifacts"), tmp_path_factory.mktemp("prefect-home")
    )


def test_run_was_killed(killed_and_resumed):
    assert killed_and_resumed["returncode"] == -signal.SIGKILL
    assert killed_and_resumed["seen"][-1] < EPOCHS


def test_checkpoint_left_behind(killed_and_resumed):
    assert killed_and_resumed["checkpoints"], "no epoch checkpoint after the kill"


def test_resumes_after_last_epoch(killed_and_resumed):
    last_seen = killed_and_resumed["seen"][-1]
    resumed_epochs = epochs_logged(killed_and_resumed["resumed"].stderr)
    # The epoch logged before the kill was saved first; one more may have
    # been saved before the kill landed. Nothing earlier is trained again.
    assert last_seen + 1 <= resumed_epochs[0] <= last_seen + 2
    assert resumed_epochs[-1] == EPOCHS


def test_checkpoint_removed_after_success(killed_and_resumed):
    for checkpoint in killed_and_resumed["checkpoints"]:
        assert not checkpoint.exists()


def test_result_matches_uninterrupted(killed_and_resumed, uninterrupted):
    resumed = autoencoder_mse(killed_and_resumed["resumed"].stdout)
    reference = autoencoder_mse(uninterrupted.stdout)
    assert resumed == pytest.approx(reference, rel=MSE_TOLERANCE)
