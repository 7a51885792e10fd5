"""Stable Diffusion alone: render one prompt with KerasCV as a Prefect flow."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from prefect import flow

from flows.study import StableDiffusionMode
from genlab.config import DiffusionConfig
from tasks.diffusion import check_stable_diffusion, render_stable_diffusion
from tasks.report import publish_summary, summarize_diffusion


@flow(name="genlab-stable-diffusion")
def stable_diffusion_flow(
    prompt: str = "a salamander reading a book",
    seed: int = 0,
    steps: int = 25,
    image_size: int = 512,
    batch_size: int = 1,
    mode: StableDiffusionMode = "auto",
    artifacts_dir: str = "artifacts",
) -> str:
    """Render a prompt and return the path of its summary CSV.

    mode "auto" uses cached or downloaded weights and records a skip row when
    neither is possible; "random" runs the pipeline on untrained weights.
    """
    config = dataclasses.replace(
        DiffusionConfig(),
        prompt=prompt,
        sd_seed=seed,
        sd_steps=steps,
        sd_image_size=image_size,
        sd_batch_size=batch_size,
        stable_diffusion=mode,
    )
    artifacts = str(Path(artifacts_dir).resolve())
    output_dir = str(Path(artifacts) / "stable-diffusion")
    skip_reason = check_stable_diffusion(config)
    if skip_reason is None:
        rendered = render_stable_diffusion(config, output_dir)
    else:
        rendered = {"skipped": skip_reason}
    rows = summarize_diffusion({}, rendered)
    return publish_summary(
        rows,
        rendered.get("pictures", {}),
        {},
        output_dir,
        f"Stable Diffusion: {prompt}",
        artifacts,
    )
