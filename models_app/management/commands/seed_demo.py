"""`manage.py seed_demo`: a small, realistic registry to explore (idempotent)."""

import random

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand
from django.db import transaction

from models_app import selectors, services
from models_app.metrics import lower_is_better
from models_app.models import ModelRegistration

# name, description, library, tags, metric names (direction: models_app.metrics), versions
DEMO_MODELS = [
    (
        "churn-classifier",
        "Predicts which subscribers cancel within 30 days.",
        "sklearn",
        {"team": "growth", "task": "classification"},
        ["accuracy", "f1", "roc_auc"],
        6,
    ),
    (
        "fraud-detector",
        "Scores card transactions for fraud in real time.",
        "xgboost",
        {"team": "risk", "task": "classification", "pii": "yes"},
        ["precision", "recall", "roc_auc"],
        8,
    ),
    (
        "demand-forecast",
        "Daily demand per store and product, 14 days ahead.",
        "lightgbm",
        {"team": "supply", "task": "regression"},
        ["mape", "rmse"],
        5,
    ),
    (
        "sentiment-bert",
        "Review sentiment, fine-tuned DistilBERT.",
        "transformers",
        {"team": "nlp", "task": "classification"},
        ["accuracy", "f1"],
        4,
    ),
    (
        "search-ranker",
        "Learning-to-rank model for product search.",
        "lightgbm",
        {"team": "search", "task": "ranking"},
        ["ndcg_at_10", "mrr"],
        7,
    ),
    (
        "image-defects",
        "Detects surface defects on the assembly line.",
        "pytorch",
        {"team": "vision", "task": "detection"},
        ["map_50", "recall"],
        3,
    ),
]


class Command(BaseCommand):
    help = (
        "Load a small demo registry: models, versions with metrics and lineage, history, aliases."
    )

    def handle(self, *args, **options):
        registry = selectors.registry_get()
        if ModelRegistration.objects.filter(registry=registry, name=DEMO_MODELS[0][0]).exists():
            self.stdout.write("Demo data is already loaded.")
            return
        rng = random.Random(7)
        engineer, reviewer = self._users()
        with transaction.atomic():
            for name, description, library, tags, metric_names, count in DEMO_MODELS:
                services.registration_create(
                    registry=registry, name=name, description=description, tags=tags, user=None
                )
                versions = [
                    self._register(
                        registry, name, library, metric_names, number, count, rng, engineer
                    )
                    for number in range(1, count + 1)
                ]
                self._history(versions, reviewer, engineer)
        self.stdout.write(f"Loaded {len(DEMO_MODELS)} demo models into '{registry.name}'.")

    def _users(self):
        User = get_user_model()
        engineer, _ = User.objects.get_or_create(
            username="alice", defaults={"first_name": "Alice", "email": "alice@example.com"}
        )
        reviewer, _ = User.objects.get_or_create(
            username="bob", defaults={"first_name": "Bob", "email": "bob@example.com"}
        )
        for user in (engineer, reviewer):
            if user.has_usable_password():
                continue
            user.set_unusable_password()
            user.save()
        registering = Permission.objects.filter(
            content_type__app_label="models_app",
            codename__in=["add_modelversion", "change_modelversion", "add_modelregistration"],
        )
        engineer.user_permissions.add(*registering)
        reviewer.user_permissions.add(
            *registering, Permission.objects.get(codename="promote_modelversion")
        )
        return User.objects.get(pk=engineer.pk), User.objects.get(pk=reviewer.pk)

    def _register(self, registry, name, library, metric_names, number, count, rng, user):
        progress = number / count
        metrics = {}
        for metric in metric_names:
            if lower_is_better(metric):
                metrics[metric] = round(0.30 - 0.12 * progress + rng.uniform(-0.02, 0.02), 4)
            else:
                metrics[metric] = round(0.70 + 0.22 * progress + rng.uniform(-0.03, 0.03), 4)
        run_id = f"{rng.getrandbits(128):032x}"
        return services.version_register(
            registry=registry,
            name=name,
            model_source_uri=f"s3://ml-artifacts/{name}/{run_id}/artifacts/model",
            description=f"Retrained on data up to week {40 + number}.",
            tags={"dataset": f"{name}-snapshot-2026w{40 + number}", "validated": "true"},
            metrics=metrics,
            parameters={
                "learning_rate": str(rng.choice([0.1, 0.05, 0.01])),
                "max_depth": str(rng.randint(4, 10)),
                "n_estimators": str(rng.choice([200, 400, 800])),
            },
            metadata={"training_rows": rng.randint(50_000, 2_000_000), "python": "3.12"},
            model_format="mlflow",
            model_library=library,
            pipeline_name=f"train_{name.replace('-', '_')}",
            pipeline_run_id=f"{name}-run-{number:03d}",
            step_name="train_model",
            experiment_run_id=run_id,
            code_version=f"{rng.getrandbits(40):010x}",
            user=user,
        )

    def _history(self, versions, reviewer, engineer):
        """Walk older versions through the lifecycle, as a team would have."""
        for version in versions[:-1]:
            services.version_transition_stage(
                version=version,
                stage="Staging",
                comment="Passed offline evaluation.",
                user=engineer,
            )
            services.version_transition_stage(
                version=version,
                stage="Production",
                archive_existing=True,
                comment="Approved after shadow traffic.",
                user=reviewer,
            )
        newest = versions[-1]
        services.version_transition_stage(
            version=newest, stage="Staging", comment="Candidate for next release.", user=engineer
        )
        if len(versions) > 1:
            services.alias_set(version=versions[-2], alias="champion", user=reviewer)
        services.alias_set(version=newest, alias="challenger", user=engineer)
