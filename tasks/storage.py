"""File references, atomic writes, and the cache policy shared by all tasks.

A task result is a small JSON dict. Files inside it appear as file references,
dicts of the form {"path": ..., "sha256": ..., "bytes": ...}. Cached results are
stored with VerifiedJSONSerializer, which re-checks every referenced file when
Prefect looks the cache record up. A deleted, truncated or altered file makes
the lookup fail, so Prefect runs the task again instead of returning a result
that points at a broken file.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from prefect.cache_policies import INPUTS, TASK_SOURCE, CachePolicy
from prefect.context import TaskRunContext
from prefect.serializers import JSONSerializer
from pydantic import Field

FileRef = dict[str, Any]


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_ref(path: str | Path) -> FileRef:
    """Describe a finished file by absolute path, SHA-256 and size."""
    path = Path(path).resolve()
    return {
        "path": str(path),
        "sha256": sha256_file(path),
        "bytes": path.stat().st_size,
    }


def is_file_ref(value: object) -> bool:
    return isinstance(value, dict) and {"path", "sha256", "bytes"} <= value.keys()


def iter_file_refs(value: object) -> Iterator[FileRef]:
    """Yield every file reference nested in dicts and lists."""
    if is_file_ref(value):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from iter_file_refs(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from iter_file_refs(item)


def check_file_ref(ref: FileRef) -> None:
    """Raise FileNotFoundError or ValueError unless the file still matches."""
    path = Path(ref["path"])
    if not path.is_file():
        raise FileNotFoundError(f"{path} no longer exists")
    if path.stat().st_size != ref["bytes"]:
        raise ValueError(f"{path} changed size since it was written")
    if sha256_file(path) != ref["sha256"]:
        raise ValueError(f"{path} changed content since it was written")


class VerifiedJSONSerializer(JSONSerializer):
    """JSON result serializer that fails to load results whose files changed.

    Prefect treats a cache record it cannot load as absent (ResultStore.exists
    in Prefect 3.9 returns False on any error), which turns a broken cached
    result into a cache miss and a fresh run.
    """

    type: str = Field(default="genlab-verified-json", frozen=True)

    def loads(self, blob: bytes) -> Any:
        result = super().loads(blob)
        for ref in iter_file_refs(result):
            check_file_ref(ref)
        return result


def _imported_modules(source_file: str, package: str | None) -> set[str]:
    """Return every module an import statement in the file names, at any depth.

    Imports inside functions count too: the task modules import TensorFlow
    and the Keras models there, so that a cached rerun never loads them.
    """
    tree = ast.parse(Path(source_file).read_text(), filename=source_file)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = importlib.util.resolve_name("." * node.level + base, package)
            names.add(base)
            # "from genlab.models import vae" names the module genlab.models.vae.
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _source_file(module_name: str) -> tuple[str | None, str | None]:
    """Return (file, package) of a module without importing the module itself."""
    module = sys.modules.get(module_name)
    if module is not None:
        return getattr(module, "__file__", None), module.__package__
    try:
        parent = module_name.rpartition(".")[0]
        # find_spec imports the parent. A parent that is a plain module (as in
        # "genlab.models.vae.VAE") would load TensorFlow and contains no modules.
        if (
            parent
            and importlib.util.find_spec(parent).submodule_search_locations is None
        ):
            return None, None
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError, AttributeError):
        return None, None
    if spec is None or spec.origin in (None, "built-in", "frozen"):
        return None, None
    package = module_name if spec.submodule_search_locations else spec.parent
    return spec.origin, package


def genlab_modules_used(module_name: str) -> set[str]:
    """Return the genlab modules a module imports, directly or through each other.

    Read from the import statements in the source files, so a module imported
    lazily inside a function counts although it is not loaded yet.
    """
    seen: set[str] = set()
    pending = [module_name]
    while pending:
        source, package = _source_file(pending.pop())
        if source is None or not source.endswith(".py"):
            continue
        for name in _imported_modules(source, package):
            if (name == "genlab" or name.startswith("genlab.")) and name not in seen:
                if _source_file(name)[0] is None:
                    continue  # a function or class imported from a module
                seen.add(name)
                pending.append(name)
    return seen


@cache
def genlab_source_digest(module_name: str) -> str:
    """Hash the source of every genlab module that `module_name` depends on."""
    digest = hashlib.sha256()
    for name in sorted(genlab_modules_used(module_name)):
        source = _source_file(name)[0]
        digest.update(name.encode())
        if source:
            digest.update(Path(source).read_bytes())
    return digest.hexdigest()


class GenlabSource(CachePolicy):
    """Cache key part that changes when genlab code used by the task changes.

    Prefect's TASK_SOURCE hashes only the task function. The models, data
    readers and metrics it calls live in the genlab package, so their source
    is part of the key too.
    """

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        return genlab_source_digest(task_ctx.task.fn.__module__)


# Key on the task's small inputs (dataset reference, config, seed, folders), its
# own source and the genlab package source. Arrays never enter the key.
STUDY_CACHE_POLICY = INPUTS + TASK_SOURCE + GenlabSource()

CACHED_TASK_OPTIONS: dict[str, Any] = {
    "cache_policy": STUDY_CACHE_POLICY,
    "persist_result": True,
    "result_serializer": VerifiedJSONSerializer(),
}


@contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside `path`, renamed onto it only on success.

    A crash or exception leaves the previous file (or nothing) in place, never a
    half-written one. `suffix` keeps the extension for writers that need it
    (Keras refuses to save a model to a name that does not end in .keras).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=suffix or path.suffix
    )
    os.close(handle)
    # mkstemp creates the file readable by its owner only; give the finished
    # file the permissions an ordinary open() would, under the current umask.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)
    try:
        yield Path(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def write_atomic(path: str | Path, writer: Callable[[Path], None]) -> FileRef:
    """Write a file through `writer(temporary_path)` atomically; return its ref."""
    with atomic_path(path) as temporary:
        writer(temporary)
    return file_ref(path)
