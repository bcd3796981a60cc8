"""Rules for reading metrics: which direction is better, the best of several values, and the
geometry of the metric chart. Used by the registration page and the compare view.

Lower is better when the metric's whole name, or one of its parts, is a word in
LOWER_IS_BETTER. Parts are split at anything that is not a letter or digit (`val_loss`,
`test/rmse`, `error-rate`) and at lower-to-upper case changes (`valLoss`); the match ignores
case. So `answer_accuracy` is higher-is-better although it contains "wer".
"""

from __future__ import annotations

import math
import re

LOWER_IS_BETTER = frozenset(
    {
        "loss",
        "losses",
        "logloss",
        "error",
        "errors",
        "rmse",
        "mse",
        "mae",
        "mape",
        "latency",
        "perplexity",
        "wer",
    }
)

# Both patterns have no nested repetition, so they run in linear time on any name.
_CASE_CHANGE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[^0-9A-Za-z]+")


def name_parts(metric: str) -> list[str]:
    """The lower-cased words of a metric name: `val_Loss` and `valLoss` give val, loss."""
    return [part.lower() for part in _SEPARATORS.split(_CASE_CHANGE.sub(" ", metric)) if part]


def lower_is_better(metric: str) -> bool:
    return any(part in LOWER_IS_BETTER for part in name_parts(metric))


def best_value(metric: str, values: list) -> float | None:
    """The best of a metric's values across versions; None when there is nothing to pick."""
    present = [value for value in values if value is not None]
    if len(set(present)) < 2:
        return None
    return min(present) if lower_is_better(metric) else max(present)


def delta(value, base) -> str | None:
    """A value's signed difference from the first version's, for the compare table."""
    if isinstance(value, (int, float)) and isinstance(base, (int, float)) and value != base:
        return f"{value - base:+.4g}"
    return None


CHART_WIDTH, CHART_HEIGHT, CHART_PADDING = 640, 260, 36


def chart(rows: list[tuple[int, str, dict]], metric: str | None) -> dict:
    """Points of one metric across versions, laid out for an inline SVG (no chart library).

    `rows` are (version number, stage, metrics) in version order; `metric` defaults to the
    first name any version has.
    """
    names = sorted({key for _, _, metrics in rows for key in metrics})
    metric = metric if metric in names else (names[0] if names else None)
    points = [
        (v, stage, metrics[metric]) for v, stage, metrics in rows if metric and metric in metrics
    ]
    width, height, pad = CHART_WIDTH, CHART_HEIGHT, CHART_PADDING
    result = {
        "metric": metric,
        "metric_names": names,
        "width": width,
        "height": height,
        "points": [],
    }
    if not points:
        return result
    values = [p[2] for p in points]
    low, high = min(values), max(values)
    span = (high - low) or abs(high) or 1.0
    low, high = low - span * 0.1, high + span * 0.1
    count = len(points)
    for index, (version, stage, value) in enumerate(points):
        x = pad + (index * (width - 2 * pad) / (count - 1) if count > 1 else (width - 2 * pad) / 2)
        y = height - pad - (value - low) / (high - low) * (height - 2 * pad)
        result["points"].append(
            {"version": version, "stage": stage, "value": value, "x": round(x, 1), "y": round(y, 1)}
        )
    result["path"] = " ".join(
        f"{'M' if i == 0 else 'L'}{p['x']},{p['y']}" for i, p in enumerate(result["points"])
    )
    result["ticks"] = [
        {
            "y": round(height - pad - f * (height - 2 * pad), 1),
            "label": _short(low + f * (high - low)),
        }
        for f in (0, 0.5, 1)
    ]
    result["lower_is_better"] = lower_is_better(metric)
    return result


def _short(value: float) -> str:
    if value == 0 or not math.isfinite(value):
        return "0"
    return f"{value:.3g}"
