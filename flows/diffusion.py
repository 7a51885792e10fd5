"""Diffusion branch: a DDPM trained here, and KerasCV Stable Diffusion."""

from __future__ import annotations

from flows.parts import PartRuns
from flows.representation import refreshed
from genlab.config import Profile
from tasks.diffusion import (
    check_stable_diffusion,
    plot_ddpm,
    render_stable_diffusion,
    train_ddpm,
)
from tasks.generative import evaluate_generator, train_evaluation_classifier
from tasks.report import summarize_diffusion
from tasks.storage import FileRef

DDPM_SEED = 0
EVALUATION_SEED = 0  # the same evaluation classifier as the generative branch
MEASURE_SEED = 1


def diffusion_models(
    data: FileRef,
    profile: Profile,
    artifacts_dir: str,
    output_dir: str,
    refresh: bool = False,
) -> PartRuns:
    """Submit the DDPM (trained, measured per sampler, drawn) and Stable Diffusion.

    The DDPM is measured with the generative branch's evaluation classifier;
    Prefect's cache makes both branches share one trained classifier.
    """
    settings = profile.diffusion
    measure = profile.generative.measure
    evaluator = refreshed(train_evaluation_classifier, refresh).submit(
        data, measure, EVALUATION_SEED, artifacts_dir
    )
    ddpm = refreshed(train_ddpm, refresh).submit(
        data, settings.ddpm, DDPM_SEED, artifacts_dir
    )
    samplers = {
        sampler: refreshed(evaluate_generator, refresh).submit(
            data, ddpm, evaluator, measure, MEASURE_SEED, sampler
        )
        for sampler in settings.samplers
    }
    pictures = refreshed(plot_ddpm, refresh).submit(
        ddpm, settings.samplers, measure.grid_images, settings.strip_frames, output_dir
    )
    # Everything else is submitted already, so waiting for this check (and a
    # download where one is needed) delays no other task.
    skip_reason = check_stable_diffusion(settings)
    if skip_reason is None:
        stable = refreshed(render_stable_diffusion, refresh).submit(
            settings, output_dir
        )
    else:
        stable = {"skipped": skip_reason}
    return PartRuns(
        rows=summarize_diffusion.submit(samplers, stable),
        pictures={"ddpm": pictures, "stable_diffusion": stable},
        models={"ddpm": ddpm},
    )
