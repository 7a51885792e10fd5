"""Submitted runs of a study part: futures of its rows, pictures and models."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prefect.futures import PrefectFuture

from tasks.storage import FileRef, is_file_ref


@dataclass
class PartRuns:
    """Submitted task runs of one study part, resolved only at the end.

    rows is a future of summary rows. pictures and models map names to futures
    (or values) that resolve to a file reference, a dict of named references,
    or a training result whose "model" and "epoch_grids" entries are the files.
    """

    rows: Any
    pictures: dict[str, Any] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)


def resolve(value: Any) -> Any:
    return value.result() if isinstance(value, PrefectFuture) else value


def _named_refs(name: str, value: Any, key: str) -> dict[str, FileRef]:
    """Flatten one resolved picture or model entry into named file references."""
    if is_file_ref(value):
        return {name: value}
    if "pictures" in value:  # a Stable Diffusion run
        return dict(value["pictures"])
    if "skipped" in value:
        return {}
    if key in value:  # a training result
        refs = {name: value[key]} if is_file_ref(value[key]) else {}
        if key == "epoch_grids":
            refs = {
                f"{name}_epoch_{index}": grid
                for index, grid in enumerate(value[key], start=1)
            }
        return refs
    return {inner: ref for inner, ref in value.items() if is_file_ref(ref)}


def raise_first_failure(parts: list[PartRuns]) -> None:
    """Wait for every run and re-raise the first failed one's own exception.

    Without this, the summary task, whose inputs failed, would surface only as
    a run that never finished and hide the error that stopped the study.
    """
    futures = [
        value
        for part in parts
        for value in (*part.models.values(), *part.pictures.values(), part.rows)
        if isinstance(value, PrefectFuture)
    ]
    for future in futures:
        future.wait()
    for future in futures:
        if future.state.is_failed() or future.state.is_crashed():
            future.result()  # raises the task's exception


def collect(parts: list[PartRuns]) -> tuple[list[dict], dict, dict]:
    """Wait for every part and return (rows, pictures, models)."""
    raise_first_failure(parts)
    rows: list[dict] = []
    pictures: dict[str, FileRef] = {}
    models: dict[str, FileRef] = {}
    for part in parts:
        rows.extend(resolve(part.rows))
        for name, value in part.pictures.items():
            pictures.update(_named_refs(name, resolve(value), "epoch_grids"))
        for name, value in part.models.items():
            resolved = resolve(value)
            if isinstance(resolved, dict) and "autoencoder" in resolved:
                models[name] = resolved["autoencoder"]
                models[f"{name}_encoder"] = resolved["encoder"]
            else:
                models.update(_named_refs(name, resolved, "model"))
    return rows, pictures, models
