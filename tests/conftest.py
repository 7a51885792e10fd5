"""Shared fixtures: a small real Fashion-MNIST slice and a quiet Prefect setup."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Cached results, the test server's database and logs stay out of ~/.prefect.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="genlab-tests-prefect-")
atexit.register(shutil.rmtree, os.environ["PREFECT_HOME"], ignore_errors=True)

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from genlab.data import DEBIAN_FASHION_MNIST_DIR, Dataset, load_dataset, subsample  # noqa: E402


@pytest.fixture(scope="session")
def fashion_mnist() -> Dataset:
    """The real Fashion-MNIST dataset from Debian's dataset-fashion-mnist package."""
    if not DEBIAN_FASHION_MNIST_DIR.is_dir():
        pytest.fail(
            f"{DEBIAN_FASHION_MNIST_DIR} not found; run "
            "`apt-get install dataset-fashion-mnist` (the Makefile's setup does)"
        )
    return load_dataset("fashion_mnist")


@pytest.fixture(scope="session")
def fashion_slice(fashion_mnist: Dataset) -> Dataset:
    """The first 512 training and 256 test images of real Fashion-MNIST."""
    return subsample(fashion_mnist, 512, 256)


@pytest.fixture(scope="session")
def prefect_server():
    """A temporary Prefect server with its own SQLite database, for the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
