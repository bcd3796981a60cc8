"""Rules for reading metrics: which direction is better, the best of several values, the
geometry of the metric chart (registration page, compare view), and metric conditions such as
`accuracy>=0.9` (the metric filter of listings and a registration's promotion gate).

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


# Metric conditions ---------------------------------------------------------------------
_OPERATOR_CHARS = "<>=!"
_COMPARISONS = (">=", "<=", "!=", "==", "=", ">", "<")
_COMPARE = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    "=": lambda a, b: a == b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}
# The opposite comparison, to say why a value fails: `accuracy 0.85 < 0.9`.
_FAILS_AS = {">=": "<", "<=": ">", ">": "<=", "<": ">=", "=": "!=", "==": "!=", "!=": "="}
GATE_MAX_LENGTH = 500
GATE_MAX_CONDITIONS = 20


class ConditionError(ValueError):
    """A metric condition that does not parse; `template % params` is the message."""

    def __init__(self, template: str, **params):
        super().__init__(template % params)
        self.template, self.params = template, params


def parse_metric_condition(raw: str) -> tuple[str, str, str] | None:
    """Split `key<op>value` at the first operator character, in one pass (no regex)."""
    start = min((i for i in map(raw.find, _OPERATOR_CHARS) if i >= 0), default=-1)
    if start <= 0:
        return None
    op = next((op for op in _COMPARISONS if raw.startswith(op, start)), None)
    if op is None:
        return None
    key, value = raw[:start].strip(), raw[start + len(op) :].strip()
    if not key or not value or any(ch in value for ch in _OPERATOR_CHARS):
        return None
    return key, op, value


def parse_condition(raw: str) -> tuple[str, str, float]:
    """`accuracy>=0.9`, `loss < 0.2`, `f1=1`, `auc!=0.5` as (key, operator, number)."""
    parts = parse_metric_condition(raw)
    if parts is None:
        raise ConditionError(
            "'%(raw)s' is not a metric condition such as accuracy>=0.9.", raw=raw[:100]
        )
    key, op, value = parts
    try:
        number = float(value)
    except ValueError:
        raise ConditionError(
            "'%(value)s' in '%(raw)s' is not a number.", value=value[:100], raw=raw[:100]
        )
    if not math.isfinite(number):
        raise ConditionError("'%(raw)s' compares with a number that is not finite.", raw=raw[:100])
    return key, op, number


def parse_gate(text: str) -> list[tuple[str, str, float]]:
    """A promotion gate: metric conditions separated by commas, all of which must hold."""
    if len(text) > GATE_MAX_LENGTH:
        raise ConditionError("A gate has at most %(limit)d characters.", limit=GATE_MAX_LENGTH)
    terms = [term.strip() for term in text.split(",") if term.strip()]
    if len(terms) > GATE_MAX_CONDITIONS:
        raise ConditionError("A gate has at most %(limit)d conditions.", limit=GATE_MAX_CONDITIONS)
    return [parse_condition(term) for term in terms]


def format_gate(conditions: list[tuple[str, str, float]]) -> str:
    return ", ".join(f"{key} {op} {number:g}" for key, op, number in conditions)


def gate_failures(text: str, metrics: dict) -> list[str]:
    """Why a version's metrics fail the gate, one reason per failed condition (none: passes).
    A missing or non-numeric metric fails its condition."""
    reasons = []
    for key, op, number in parse_gate(text or ""):
        value = metrics.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            reasons.append(f"{key} is missing (needs {key} {op} {number:g})")
        elif not _COMPARE[op](value, number):
            reasons.append(f"{key} {value:g} {_FAILS_AS[op]} {number:g}")
    return reasons


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
