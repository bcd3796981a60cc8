"""Where a version came from, read from what MLflow and ZenML clients send.

ZenML's MLflow model registry and MLflow itself carry lineage as version tags; these become
the version's lineage fields (the tags stay as sent). A field given explicitly wins.
"""

from __future__ import annotations

from collections.abc import Mapping

# Lineage field <- the tags that carry it, first present wins.
LINEAGE_TAGS: dict[str, tuple[str, ...]] = {
    "pipeline_name": ("zenml_pipeline_name",),
    "pipeline_run_id": ("zenml_pipeline_run_uuid", "zenml_pipeline_run_id", "zenml_run_name"),
    "step_name": ("zenml_step_name",),
    "experiment_run_id": ("mlflow_run_id",),
    "code_version": ("mlflow.source.git.commit",),
}


def lineage_from_tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    """The lineage fields that `tags` name (only those present and non-empty)."""
    found = {}
    for field, keys in LINEAGE_TAGS.items():
        for key in keys:
            value = (tags or {}).get(key)
            if isinstance(value, str) and value.strip():
                found[field] = value.strip()
                break
    return found


def run_in_source(source: str) -> str:
    """The run id a `runs:/<run_id>/<path>` source names, else ""."""
    if not source.startswith("runs:/"):
        return ""
    return source[len("runs:/") :].lstrip("/").split("/", 1)[0]


def copied_version(source: str) -> tuple[str, int] | None:
    """(model name, version) when the source is `models:/<name>/<number>`, else None."""
    if not source.startswith("models:/"):
        return None
    name, _, number = source[len("models:/") :].rpartition("/")
    if not name or not number.isdigit() or len(number) > 10:
        return None
    return name, int(number)
