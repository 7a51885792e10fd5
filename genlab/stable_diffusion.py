"""Text-to-image with KerasCV's Stable Diffusion 1.x, without hidden downloads.

KerasCV 0.9 fetches its weights and the CLIP tokenizer vocabulary with
`keras.utils.get_file`, which downloads whatever is missing from the Keras cache.
This module builds the same pipeline from local files only: it checks the cache
first and raises WeightsUnavailableError or VocabularyUnavailableError instead
of opening a network connection. With random_weights=True it builds the full
pipeline with untrained weights, which exercises every stage (tokenizer, text
encoder, U-Net denoising loop, decoder) and measures speed, but draws noise.

Cache layout, from keras_cv 0.9 (`keras_cv/src/models/stable_diffusion/`):
every file lives in `<Keras home>/datasets/`, because KerasCV passes no
cache_subdir to get_file, and the file names are the last path parts of the
download URLs.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import resource
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from genlab.errors import GenlabError

# Component -> (file name, SHA-256, download URL), as in keras_cv 0.9's
# text_encoder.py, diffusion_model.py and decoder.py (Stable Diffusion v1).
WEIGHT_FILES = {
    "text_encoder": (
        "kcv_encoder.h5",
        "4789e63e07c0e54d6a34a29b45ce81ece27060c499a709d556c7755b42bb0dc4",
        "https://huggingface.co/fchollet/stable-diffusion/resolve/main/kcv_encoder.h5",
    ),
    "diffusion_model": (
        "kcv_diffusion_model.h5",
        "8799ff9763de13d7f30a683d653018e114ed24a6a819667da4f5ee10f9e805fe",
        "https://huggingface.co/fchollet/stable-diffusion/resolve/main/"
        "kcv_diffusion_model.h5",
    ),
    "decoder": (
        "kcv_decoder.h5",
        "ad350a65cc8bc4a80c8103367e039a3329b4231c2469a1093869a345f55b1962",
        "https://huggingface.co/fchollet/stable-diffusion/resolve/main/kcv_decoder.h5",
    ),
}
# CLIP's BPE merges, as in keras_cv 0.9's clip_tokenizer.py. The open-clip-torch
# wheel ships the same file (same SHA-256) as open_clip/bpe_simple_vocab_16e6.txt.gz.
VOCABULARY_FILE = "bpe_simple_vocab_16e6.txt.gz"
VOCABULARY_SHA256 = "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a"
CACHE_SUBDIR = "datasets"  # keras.utils.get_file's default, which KerasCV uses

MAX_PROMPT_TOKENS = 77  # CLIP context length, including start and end tokens
# keras_cv 0.9's StableDiffusion needs sides that are multiples of 2**7 = 128.
# It rounds other sizes to the nearest multiple, and Python's round turns 64
# into 0, so this module rejects them instead.
SIZE_MULTIPLE = 128


class WeightsUnavailableError(GenlabError, RuntimeError):
    """The pretrained Stable Diffusion weights are not in the local Keras cache."""


class VocabularyUnavailableError(GenlabError, RuntimeError):
    """The CLIP tokenizer vocabulary file is in neither the cache nor open_clip."""


# ---------------------------------------------------------------------------
# Local files


def keras_cache_dir() -> Path:
    """Return the Keras home folder that keras.utils.get_file downloads into.

    Keras 3 reads $KERAS_HOME once, when keras is imported, and otherwise uses
    ~/.keras, or /tmp/.keras when the home folder is not writable. This
    function reads the environment now, so it can differ from Keras' value when
    KERAS_HOME changes after import.
    """
    if "KERAS_HOME" in os.environ:
        return Path(os.environ["KERAS_HOME"])
    home = Path.home()
    if not os.access(home, os.W_OK):
        return Path("/tmp/.keras")
    return home / ".keras"


def weight_paths(cache_dir: str | Path | None = None) -> dict[str, Path]:
    """Return the path of each weight file in the cache, whether or not it exists."""
    folder = Path(cache_dir or keras_cache_dir()) / CACHE_SUBDIR
    return {name: folder / fname for name, (fname, _, _) in WEIGHT_FILES.items()}


def missing_weights(
    cache_dir: str | Path | None = None, verify: bool = False
) -> list[Path]:
    """List weight files that are absent (or, with verify, fail their SHA-256)."""
    missing = []
    for name, path in weight_paths(cache_dir).items():
        if not path.is_file() or path.stat().st_size == 0:
            missing.append(path)
        elif verify and sha256_of(path) != WEIGHT_FILES[name][1]:
            missing.append(path)
    return missing


def weights_available(
    cache_dir: str | Path | None = None, verify: bool = False
) -> bool:
    """Check whether all three weight files are in the cache, without any download.

    verify=True also checks each SHA-256, which reads several GB.
    """
    return not missing_weights(cache_dir, verify)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def packaged_vocabulary() -> Path | None:
    """Return open_clip's copy of the vocabulary without importing open_clip.

    Importing open_clip would import torch; find_spec only locates the package.
    """
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / VOCABULARY_FILE
    return path if path.is_file() else None


def find_vocabulary(cache_dir: str | Path | None = None) -> Path:
    """Return a verified vocabulary file: the Keras cache copy, else open_clip's."""
    cached = Path(cache_dir or keras_cache_dir()) / CACHE_SUBDIR / VOCABULARY_FILE
    for candidate in (cached, packaged_vocabulary()):
        if candidate is not None and candidate.is_file():
            if sha256_of(candidate) == VOCABULARY_SHA256:
                return candidate
    raise VocabularyUnavailableError(
        f"CLIP vocabulary {VOCABULARY_FILE} not found in {cached.parent} and "
        "open_clip is not installed; run `pip install --no-deps open-clip-torch` "
        f"or copy the file (SHA-256 {VOCABULARY_SHA256[:12]}...) into "
        f"{cached.parent}"
    )


def install_vocabulary(cache_dir: str | Path | None = None) -> Path:
    """Copy the vocabulary into the Keras cache, where KerasCV's tokenizer looks.

    After this, plain `keras_cv.models.StableDiffusion` finds the file and does
    not try to download it. Returns the cached path.
    """
    target = Path(cache_dir or keras_cache_dir()) / CACHE_SUBDIR / VOCABULARY_FILE
    source = find_vocabulary(cache_dir)
    if source != target:
        target.parent.mkdir(parents=True, exist_ok=True)
        # Copy to a temporary name first, so a reader never sees half a file.
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as stream:
            temporary = Path(stream.name)
        shutil.copyfile(source, temporary)
        temporary.replace(target)
    return target


def resolve_download_hosts() -> None:
    """Look up the weights' download hosts, and raise OSError when that fails.

    Without a network this fails in milliseconds, before download_weights
    pays seconds for importing Keras only to fail the same way.
    """
    for host in sorted({urlsplit(url).hostname for _, _, url in WEIGHT_FILES.values()}):
        try:
            socket.getaddrinfo(host, 443)
        except OSError as error:
            raise OSError(f"cannot resolve {host}: {error}") from error


def download_weights(cache_dir: str | Path | None = None) -> dict[str, Path]:
    """Download the three weight files into the cache with their SHA-256 checks.

    NOTE: this is the only function here that opens network connections, and it
    has not been run in this project's offline test environment.
    """
    resolve_download_hosts()
    import keras  # deferred: importing Keras costs seconds

    cache = str(cache_dir or keras_cache_dir())
    paths = {}
    for name, (fname, sha256, url) in WEIGHT_FILES.items():
        # Keras prints its progress to stdout, which belongs to the results.
        with contextlib.redirect_stdout(sys.stderr):
            path = keras.utils.get_file(
                fname=fname,
                origin=url,
                file_hash=sha256,
                cache_dir=cache,
                cache_subdir=CACHE_SUBDIR,
            )
        paths[name] = Path(path)
    return paths


# ---------------------------------------------------------------------------
# Rendering


def parse_image_size(image_size: int | tuple[int, int]) -> tuple[int, int]:
    """Return (height, width); reject sizes that are not positive multiples of 128."""
    if isinstance(image_size, int):
        height = width = image_size
    else:
        try:
            height, width = image_size
        except (TypeError, ValueError):
            raise ValueError(
                f"image_size={image_size!r} is invalid; pass an int or a "
                "(height, width) pair"
            ) from None
    for side in (height, width):
        if not isinstance(side, (int, np.integer)) or side <= 0 or side % SIZE_MULTIPLE:
            raise ValueError(
                f"image_size={image_size!r} is invalid: KerasCV's Stable Diffusion "
                f"needs sides that are positive multiples of {SIZE_MULTIPLE} "
                "(128, 256, 384, 512, ...)"
            )
    return int(height), int(width)


def validate_request(prompt: str, seed: int, steps: int, batch_size: int) -> None:
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError(
            f"prompt={prompt!r} is empty; pass a text description such as "
            "'a photograph of an astronaut riding a horse'"
        )
    for name, value, minimum in (("steps", steps, 1), ("batch_size", batch_size, 1)):
        if not isinstance(value, (int, np.integer)) or value < minimum:
            raise ValueError(
                f"{name}={value!r} is invalid; use an integer >= {minimum}"
            )
    if not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed={seed!r} is invalid; pass an integer")


def build_pipeline(
    height: int,
    width: int,
    weights: dict[str, Path] | None,
    vocabulary: Path,
    jit_compile: bool,
):
    """Build a KerasCV StableDiffusion whose parts load only the given files.

    weights=None leaves every part with its random initial weights. The class
    is defined here so that importing this module does not import KerasCV.
    """
    import keras_cv
    from keras_cv.models.stable_diffusion import (
        Decoder,
        DiffusionModel,
        SimpleTokenizer,
        TextEncoder,
    )

    class LocalStableDiffusion(keras_cv.models.StableDiffusion):
        """StableDiffusion with local weights and per-step timestamps.

        keras_cv 0.9 calls _get_timestep_embedding once at the start of each
        denoising step and reads the decoder property right after the last step,
        so those two hooks time every step without copying KerasCV's loop.
        """

        def __init__(self):
            super().__init__(
                img_height=height, img_width=width, jit_compile=jit_compile
            )
            self._tokenizer = SimpleTokenizer(bpe_path=str(vocabulary))
            self.step_starts: list[float] = []
            self.decode_start: float | None = None

        def _finish(self, model, name: str):
            if weights is not None:
                model.load_weights(str(weights[name]))
            if jit_compile:
                model.compile(jit_compile=True)
            return model

        @property
        def text_encoder(self):
            if self._text_encoder is None:
                self._text_encoder = self._finish(
                    TextEncoder(MAX_PROMPT_TOKENS, download_weights=False),
                    "text_encoder",
                )
            return self._text_encoder

        @property
        def diffusion_model(self):
            if self._diffusion_model is None:
                self._diffusion_model = self._finish(
                    DiffusionModel(
                        self.img_height,
                        self.img_width,
                        MAX_PROMPT_TOKENS,
                        download_weights=False,
                    ),
                    "diffusion_model",
                )
            return self._diffusion_model

        @property
        def decoder(self):
            self.decode_start = time.perf_counter()
            if self._decoder is None:
                self._decoder = self._finish(
                    Decoder(self.img_height, self.img_width, download_weights=False),
                    "decoder",
                )
            return self._decoder

        def _get_timestep_embedding(self, timestep, batch_size, **kwargs):
            self.step_starts.append(time.perf_counter())
            return super()._get_timestep_embedding(timestep, batch_size, **kwargs)

    return LocalStableDiffusion()


def peak_rss_mib() -> float:
    """Return this process's peak resident set size so far, in MiB (Linux: KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def render_prompt(
    prompt: str,
    seed: int = 0,
    steps: int = 25,
    image_size: int | tuple[int, int] = 512,
    batch_size: int = 1,
    random_weights: bool = False,
    cache_dir: str | Path | None = None,
    guidance_scale: float = 7.5,
    jit_compile: bool = False,
) -> tuple[np.ndarray, dict[str, float]]:
    """Render `prompt` with KerasCV's Stable Diffusion v1 and DDIM steps.

    Returns (images, timings): uint8 images of shape (batch_size, height, width,
    3), and a dict with text_encoding_seconds, first_step_seconds (it includes
    building the U-Net), seconds_per_step (mean over the later steps, or the
    first step when steps=1), decoding_seconds, total_seconds and peak_rss_mib
    (the process's peak since it started, not only this call's).

    Only local files are read: weights from `<cache_dir>/datasets` (default: the
    Keras home folder) and the vocabulary from there or from open_clip. Raises
    WeightsUnavailableError when random_weights=False and a weight file is
    missing or fails its SHA-256 check, and ValueError on invalid arguments.
    """
    validate_request(prompt, seed, steps, batch_size)
    height, width = parse_image_size(image_size)
    vocabulary = find_vocabulary(cache_dir)

    weights = None
    if not random_weights:
        missing = missing_weights(cache_dir, verify=True)
        if missing:
            names = ", ".join(path.name for path in missing)
            folder = missing[0].parent
            raise WeightsUnavailableError(
                f"Stable Diffusion weights not found or corrupt in {folder}: {names}. "
                "No download was attempted. With network access, call "
                "genlab.stable_diffusion.download_weights() (several GB) or let "
                "keras_cv.models.StableDiffusion download them once; or pass "
                "random_weights=True to run the pipeline with untrained weights, "
                "which measures speed but renders noise."
            )
        weights = weight_paths(cache_dir)

    start = time.perf_counter()
    pipeline = build_pipeline(height, width, weights, vocabulary, jit_compile)
    encoded_text = pipeline.encode_text(prompt)
    encoded = time.perf_counter()
    images = pipeline.generate_image(
        encoded_text,
        batch_size=batch_size,
        num_steps=steps,
        unconditional_guidance_scale=guidance_scale,
        seed=int(seed),
    )
    end = time.perf_counter()

    # Each step ends where the next one starts; the last ends at decoding.
    boundaries = [*pipeline.step_starts, pipeline.decode_start]
    step_seconds = np.diff(boundaries)
    later_steps = step_seconds[1:] if len(step_seconds) > 1 else step_seconds
    timings = {
        "text_encoding_seconds": encoded - start,
        "first_step_seconds": float(step_seconds[0]),
        "seconds_per_step": float(np.mean(later_steps)),
        "decoding_seconds": end - pipeline.decode_start,
        "total_seconds": end - start,
        "peak_rss_mib": peak_rss_mib(),
    }
    return np.asarray(images, dtype=np.uint8), timings
