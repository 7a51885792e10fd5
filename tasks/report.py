"""Summary rows, the summary files, and Prefect artifacts of a study run."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

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
                    [pretrained[seed] for seed in seeds],
                    [scratch[seed] for seed in seeds],
                )
            )
    return rows


@task(name="publish-summary")
def publish_summary(
    rows: list[dict],
    pictures: dict[str, FileRef],
    models: dict[str, FileRef],
    output_dir: str,
    title: str,
) -> str:
    """Write summary.csv and summary.md, publish them as Prefect artifacts."""
    logger = get_run_logger()
    output = Path(output_dir)
    frame = summary_table(rows)
    csv_ref = write_atomic(
        output / "summary.csv", lambda temporary: frame.to_csv(temporary, index=False)
    )

    lines = [f"# {title}", "", to_markdown(frame), "## Pictures", ""]
    for name, ref in sorted(pictures.items()):
        lines.append(f"- {name}: `{ref['path']}`")
    lines += ["", "## Models", ""]
    for name, ref in sorted(models.items()):
        lines.append(f"- {name}: `{ref['path']}` ({ref['bytes'] / 1e6:.1f} MB)")
    markdown = "\n".join(lines) + "\n"
    write_atomic(
        output / "summary.md", lambda temporary: temporary.write_text(markdown)
    )

    create_table_artifact(
        table=frame.to_dict(orient="records"),
        key=SUMMARY_ARTIFACT_KEY,
        description=f"{title}: one row per measured number",
    )
    create_markdown_artifact(
        markdown=markdown,
        key="genlab-files",
        description=f"{title}: pictures and models",
    )
    logger.info("summary of %d rows written to %s", len(frame), csv_ref["path"])
    logger.info("\n%s", format_table(frame))
    return csv_ref["path"]
