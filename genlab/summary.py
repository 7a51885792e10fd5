"""The study's summary table: one row per measured number (pandas, no Prefect)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

SUMMARY_COLUMNS = (
    "step",
    "variant",
    "metric",
    "value",
    "std",
    "seeds",
    "seconds",
    "note",
)


def summary_row(
    step: str,
    variant: str,
    metric: str,
    value: float,
    std: float = float("nan"),
    seeds: int = 1,
    seconds: float = float("nan"),
    note: str = "",
) -> dict:
    """Build one summary row; std is nan for a single measurement.

    note explains a row that is not a plain measurement, such as a skipped step.
    """
    return {
        "step": step,
        "variant": variant,
        "metric": metric,
        "value": float(value),
        "std": float(std),
        "seeds": int(seeds),
        "seconds": float(seconds),
        "note": note,
    }


def seed_statistics(
    step: str, variant: str, metric: str, values: Sequence[float], seconds: float
) -> dict:
    """Summarise one metric over seeds: mean and sample standard deviation."""
    values = np.asarray(values, dtype=float)
    std = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
    return summary_row(step, variant, metric, values.mean(), std, len(values), seconds)


def paired_t_test(
    step: str,
    variant: str,
    metric: str,
    treated: Sequence[float],
    control: Sequence[float],
) -> list[dict]:
    """Compare two variants measured on the same seeds with a paired t-test.

    Returns a `<metric>_difference` row with the mean paired difference
    (treated - control) and its standard deviation, and a
    `<metric>_paired_t_p_value` row with the two-sided p-value. With fewer than
    two seeds the test is undefined and the p-value is nan.
    """
    treated = np.asarray(treated, dtype=float)
    control = np.asarray(control, dtype=float)
    if treated.shape != control.shape:
        raise ValueError(
            f"paired test needs the same seeds: {treated.shape} vs {control.shape}"
        )
    differences = treated - control
    seeds = len(differences)
    std = float(differences.std(ddof=1)) if seeds > 1 else float("nan")
    p_value = float("nan")
    if seeds > 1 and not differences.any():
        # Identical results on every seed: no evidence of a difference, where
        # scipy would return nan for the zero variance.
        p_value = 1.0
    elif seeds > 1:
        from scipy import stats  # 0.4 s to import; cached reruns never need it

        p_value = float(stats.ttest_rel(treated, control).pvalue)
    return [
        summary_row(
            step, variant, f"{metric}_difference", differences.mean(), std, seeds
        ),
        summary_row(step, variant, f"{metric}_paired_t_p_value", p_value, seeds=seeds),
    ]


def summary_table(rows: Iterable[dict]) -> pd.DataFrame:
    """Build the summary DataFrame with the standard column order."""
    frame = pd.DataFrame(list(rows), columns=list(SUMMARY_COLUMNS))
    return frame.astype({"seeds": "int64", "note": "string"}).fillna({"note": ""})


def format_table(frame: pd.DataFrame) -> str:
    """Render the table for a terminal, 4 significant digits."""
    if "note" in frame:
        frame = frame.assign(note=frame["note"].fillna(""))
    return frame.to_string(index=False, float_format=lambda value: f"{value:.4g}")


def to_markdown(frame: pd.DataFrame) -> str:
    """Render the table as GitHub Markdown without the tabulate dependency."""
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    lines = [header, rule]
    for record in frame.itertuples(index=False):
        cells = [
            f"{cell:.4g}" if isinstance(cell, float) else str(cell) for cell in record
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
