"""Dataset preparation: load, check and write the arrays the study trains on."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from genlab.data import load_dataset, save_dataset_npz, subsample
from tasks.storage import CACHED_TASK_OPTIONS, FileRef, write_atomic


@task(name="prepare-dataset", **CACHED_TASK_OPTIONS)
def prepare_dataset(
    dataset: str,
    data_dir: str | None,
    train_limit: int | None,
    test_limit: int | None,
    artifacts_dir: str,
) -> FileRef:
    """Load a dataset, keep the profile's slice, write it as uint8 .npz."""
    logger = get_run_logger()
    data = subsample(load_dataset(dataset, data_dir), train_limit, test_limit)
    path = (
        Path(artifacts_dir)
        / "data"
        / f"{dataset}-train{len(data.x_train)}-test{len(data.x_test)}.npz"
    )
    ref = write_atomic(path, lambda temporary: save_dataset_npz(data, temporary))
    logger.info(
        "%s: %d train and %d test images of shape %s, written to %s",
        dataset,
        len(data.x_train),
        len(data.x_test),
        data.image_shape,
        path,
    )
    return ref
