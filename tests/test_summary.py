"""Summary rows and the paired t-test."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from genlab.summary import (
    SUMMARY_COLUMNS,
    paired_t_test,
    seed_statistics,
    summary_table,
    to_markdown,
)


def test_seed_statistics_sample_std():
    row = seed_statistics("s", "v", "accuracy", [0.7, 0.8, 0.9], seconds=3.0)
    assert row["value"] == pytest.approx(0.8)
    assert row["std"] == pytest.approx(0.1)
    assert row["seeds"] == 3


def test_single_seed_std_nan():
    row = seed_statistics("s", "v", "accuracy", [0.7], seconds=1.0)
    assert math.isnan(row["std"])


def test_paired_t_test_matches_scipy():
    treated = [0.81, 0.79, 0.84, 0.80]
    control = [0.78, 0.77, 0.80, 0.79]
    difference, p_value = paired_t_test("s", "a_vs_b", "accuracy", treated, control)
    assert difference["metric"] == "accuracy_difference"
    assert difference["value"] == pytest.approx(0.025)
    assert p_value["metric"] == "accuracy_paired_t_p_value"
    assert p_value["value"] == pytest.approx(stats.ttest_rel(treated, control).pvalue)


def test_paired_identical_results():
    _, p_value = paired_t_test("s", "v", "m", [0.5, 0.6], [0.5, 0.6])
    assert p_value["value"] == 1.0


def test_paired_needs_same_seeds():
    with pytest.raises(ValueError, match="same seeds"):
        paired_t_test("s", "v", "m", [0.5, 0.6], [0.5])


def test_table_columns_and_markdown():
    frame = summary_table([seed_statistics("s", "v", "m", [1.0, 2.0], 1.0)])
    assert tuple(frame.columns) == SUMMARY_COLUMNS
    markdown = to_markdown(frame)
    assert markdown.splitlines()[0] == "| " + " | ".join(SUMMARY_COLUMNS) + " |"
    assert "| s | v | m | 1.5 |" in markdown
