"""Summary rows, the summary files, and Prefect artifacts of a study run."""

from __future__ import annotations

import os
import re
from collections import defaultdict
from pathlib import Path
from urllib.parse import quote

from prefect import get_run_logger, task
from prefect.artifacts import (
    create_image_artifact,
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)

from genlab.summary import (
    format_table,
    paired_t_test,
    seed_statistics,
    summary_row,
    summary_table,
    to_markdown,
)
from tasks.storage import FileRef, write_atomic

SUMMARY_ARTIFACT_KEY = "genlab-summary"


@task(name="summarize-representation")
def summarize_representation(autoencoder: dict, classifiers: list[dict]) -> list[dict]:
    """Turn autoencoder and classifier results into summary rows."""
    rows = [
        summary_row(
            "autoencoder",
            "denoising",
            metric,
            autoencoder[metric],
            seconds=autoencoder["train_seconds"],
        )
        for metric in ("test_bce", "test_mse")
    ]
    rows.append(
        summary_row(
            "autoencoder",
            "denoising",
            "train_images_per_second",
            autoencoder["images_per_second"],
            seconds=autoencoder["train_seconds"],
        )
    )

    accuracies: dict[str, dict[int, float]] = defaultdict(dict)
    seconds: dict[str, float] = defaultdict(float)
    for result in classifiers:
        accuracies[result["variant"]][result["seed"]] = result["test_accuracy"]
        seconds[result["variant"]] += result["train_seconds"]
    labels = classifiers[0]["labels"] if classifiers else 0
    step = f"classifier_{labels}_labels"
    for variant, by_seed in accuracies.items():
        rows.append(
            seed_statistics(
                step, variant, "test_accuracy", list(by_seed.values()), seconds[variant]
            )
        )
    scratch = accuracies.get("scratch", {})
    for variant in ("frozen", "fine_tuned"):
        pretrained = accuracies.get(variant, {})
        seeds = sorted(set(pretrained) & set(scratch))
        if seeds:
            rows.extend(
                paired_t_test(
                    step,
                    f"{variant}_vs_scratch",
                    "test_accuracy",
                    [pretrained[seed] for seed in seeds],
                    [scratch[seed] for seed in seeds],
                )
            )
    return rows


def artifact_key(text: str) -> str:
    """Turn a name into a Prefect artifact key: lowercase letters, digits, dashes."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def picture_urls(
    pictures: dict[str, FileRef], artifacts_dir: str, base_url: str
) -> dict[str, str]:
    """Map picture names to URLs under a static server that serves artifacts_dir."""
    root = Path(artifacts_dir).resolve()
    urls = {}
    for name, ref in sorted(pictures.items()):
        relative = Path(ref["path"]).resolve().relative_to(root).as_posix()
        urls[name] = f"{base_url.rstrip('/')}/{quote(relative)}"
    return urls


def publish_pictures(urls: dict[str, str], run_key: str) -> None:
    """Publish each main picture as an image artifact and all of them as markdown.

    Epoch-by-epoch grids appear only in the markdown artifact, so the image
    artifacts stay a short list.
    """
    for name, url in urls.items():
        if "_epoch_" not in name:
            create_image_artifact(
                image_url=url, key=artifact_key(f"{run_key}-{name}"), description=name
            )
    lines = [f"### {name}\n\n![{name}]({url})\n" for name, url in urls.items()]
    create_markdown_artifact(
        markdown="\n".join(lines),
        key=artifact_key(f"{run_key}-pictures"),
        description="every picture of the run",
    )


def files_section(
    pictures: dict[str, FileRef], models: dict[str, FileRef], urls: dict[str, str]
) -> list[str]:
    """List pictures and models as Markdown: links where a URL is known."""

    def entry(name: str, ref: FileRef) -> str:
        if name in urls:
            return f"- [{name}]({urls[name]})"
        return f"- {name}: `{ref['path']}`"

    lines = ["## Pictures", ""]
    lines += [entry(name, ref) for name, ref in sorted(pictures.items())]
    lines += ["", "## Models", ""]
    for name, ref in sorted(models.items()):
        lines.append(f"{entry(name, ref)} ({ref['bytes'] / 1e6:.1f} MB)")
    return lines


@task(name="publish-summary")
def publish_summary(
    rows: list[dict],
    pictures: dict[str, FileRef],
    models: dict[str, FileRef],
    output_dir: str,
    title: str,
    artifacts_dir: str | None = None,
    artifacts_url: str | None = None,
) -> str:
    """Write summary.csv and summary.md, publish them as Prefect artifacts.

    With artifacts_url, the base URL of a static server that serves
    artifacts_dir (GENLAB_ARTIFACTS_URL by default), the pictures are also
    published as image artifacts that the dashboard shows.
    """
    logger = get_run_logger()
    output = Path(output_dir)
    frame = summary_table(rows)
    csv_ref = write_atomic(
        output / "summary.csv", lambda temporary: frame.to_csv(temporary, index=False)
    )

    lines = [f"# {title}", "", to_markdown(frame)]
    if (frame["metric"] == FRECHET_METRIC).any():
        lines += [f"NOTE: {FRECHET_NOTE}", ""]
    markdown = "\n".join(lines + files_section(pictures, models, {})) + "\n"
    write_atomic(
        output / "summary.md", lambda temporary: temporary.write_text(markdown)
    )

    artifacts_url = artifacts_url or os.environ.get("GENLAB_ARTIFACTS_URL")
    urls = {}
    if artifacts_url and artifacts_dir:
        urls = picture_urls({**pictures, **models}, artifacts_dir, artifacts_url)
    artifact_markdown = "\n".join(lines + files_section(pictures, models, urls))

    create_table_artifact(
        # Rounded like the printed table, so the dashboard's columns fit.
        table=frame.round({"value": 6, "std": 6, "seconds": 2})
        .astype(object)
        .where(frame.notna(), None)
        .to_dict(orient="records"),
        key=SUMMARY_ARTIFACT_KEY,
        description=f"{title}: one row per measured number",
    )
    create_markdown_artifact(
        markdown=artifact_markdown + "\n",
        key="genlab-files",
        description=f"{title}: pictures and models",
    )
    if urls:
        run_key = Path(output_dir).name
        publish_pictures(picture_urls(pictures, artifacts_dir, artifacts_url), run_key)
        csv_url = picture_urls({"csv": csv_ref}, artifacts_dir, artifacts_url)["csv"]
        create_link_artifact(
            link=csv_url,
            link_text="summary.csv",
            key=artifact_key(f"{run_key}-summary-csv"),
            description=f"{title}: the summary table as CSV",
        )
    logger.info("summary of %d rows written to %s", len(frame), csv_ref["path"])
    logger.info("\n%s", format_table(frame))
    return csv_ref["path"]


FRECHET_METRIC = "classifier_frechet_distance"
FRECHET_NOTE = (
    f"{FRECHET_METRIC} is the Fréchet distance between generated and real test "
    "images in the penultimate features of the study's own evaluation "
    "classifier. It is not Inception FID: compare it only within one study, "
    "against the real_train floor and the uniform_noise ceiling."
)
GENERATOR_METRICS = {
    "frechet_distance": FRECHET_METRIC,
    "normalized_entropy": "class_entropy_normalized",
    "coverage": "class_coverage",
    "seconds_per_image": "seconds_per_image",
}


def _generator_rows(variant: str, result: dict) -> list[dict]:
    rows = [
        summary_row(
            "generator", variant, metric, result[key], seconds=result["train_seconds"]
        )
        for key, metric in GENERATOR_METRICS.items()
    ]
    if "conditional_accuracy" in result:
        rows.append(
            summary_row(
                "generator",
                variant,
                "conditional_accuracy",
                result["conditional_accuracy"],
                seconds=result["train_seconds"],
            )
        )
        for name, value in result["conditional_accuracy_per_class"].items():
            rows.append(
                summary_row(
                    "generator", variant, f"conditional_accuracy[{name}]", value
                )
            )
    return rows


@task(name="summarize-generative")
def summarize_generative(
    evaluator: dict,
    references: dict,
    generators: dict[str, dict],
    seeded_generators: dict[str, list[dict]],
) -> list[dict]:
    """Turn generator measurements into summary rows, with replay vs plain tests.

    generators maps a variant name to one measurement; seeded_generators maps
    a variant name to one measurement per seed, in seed order.
    """
    rows = [
        summary_row(
            "generative_evaluation",
            "evaluation_classifier",
            "test_accuracy",
            evaluator["test_accuracy"],
            seconds=evaluator["train_seconds"],
        ),
        summary_row(
            "generator", "real_train", FRECHET_METRIC, references["real_train"]
        ),
        summary_row(
            "generator", "uniform_noise", FRECHET_METRIC, references["uniform_noise"]
        ),
        summary_row(
            "generator",
            "real_train",
            "class_entropy_normalized",
            references["real_normalized_entropy"],
        ),
        summary_row(
            "generator", "real_train", "class_coverage", references["real_coverage"]
        ),
    ]
    for variant, result in generators.items():
        rows.extend(_generator_rows(variant, result))
    for variant, results in seeded_generators.items():
        seconds = sum(result["train_seconds"] for result in results)
        for key, metric in GENERATOR_METRICS.items():
            values = [result[key] for result in results]
            rows.append(seed_statistics("generator", variant, metric, values, seconds))

    plain = seeded_generators.get("dcgan", [])
    replay = seeded_generators.get("dcgan_replay", [])
    if plain and len(plain) == len(replay):
        for key in ("frechet_distance", "normalized_entropy"):
            rows.extend(
                paired_t_test(
                    "generator",
                    "dcgan_replay_vs_dcgan",
                    GENERATOR_METRICS[key],
                    [result[key] for result in replay],
                    [result[key] for result in plain],
                )
            )
    return rows


@task(name="summarize-diffusion")
def summarize_diffusion(
    samplers: dict[str, dict], stable_diffusion: dict
) -> list[dict]:
    """Turn DDPM sampler measurements and the Stable Diffusion run into rows."""
    rows = []
    for sampler, result in samplers.items():
        rows.extend(_generator_rows(f"ddpm_{sampler}", result))
    if "skipped" in stable_diffusion:
        rows.append(
            summary_row(
                "stable_diffusion",
                "skipped",
                "rendered_images",
                0,
                note=stable_diffusion["skipped"],
            )
        )
        return rows
    timings = stable_diffusion["timings"]
    variant = "random_weights" if stable_diffusion["random_weights"] else "pretrained"
    note = (
        "untrained weights: speed only, images are noise"
        if variant == "random_weights"
        else ""
    )
    for metric, key in (
        ("seconds_per_step", "seconds_per_step"),
        ("first_step_seconds", "first_step_seconds"),
        ("peak_memory_mib", "peak_rss_mib"),
    ):
        rows.append(
            summary_row(
                "stable_diffusion",
                variant,
                metric,
                timings[key],
                seconds=stable_diffusion["seconds"],
                note=note,
            )
        )
    return rows
