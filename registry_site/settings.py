"""Settings, read from environment variables with safe defaults.

Out of the box: SQLite file in the project folder, DEBUG off. `make run` writes a git-ignored
`.env` (DEBUG on, a generated secret key) so that `manage.py` works in a checkout; variables
set in the environment always win over it, and a deployment has no `.env`.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent
# DJANGO_ENV_FILE="" reads no file (tests, and anyone who wants only the real environment).
_env_file = os.environ.get("DJANGO_ENV_FILE", str(BASE_DIR / ".env"))
if _env_file:
    load_dotenv(_env_file, override=False)


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def envrate(name: str, default: str) -> str | None:
    """A rate such as `100/min`; `off` means no limit."""
    value = os.environ.get(name, "").strip() or default
    return None if value.lower() == "off" else value


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = envbool("DJANGO_DEBUG", False)


def _secret_key() -> str:
    key = os.environ.get("DJANGO_SECRET_KEY", "")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off "
            "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))')."
        )
    # Development without `.env`: a key for this process only (sessions end with it).
    return secrets.token_urlsafe(50)


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = envlist("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_filters",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks_db",
    "axes",
    "models_app",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files from the web process itself (compressed, hashed names, cached forever).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "models_app.middleware.InputLimitsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last: turns a sign-in refused by the lockout into a 429 with a clear message.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "registry_site.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
            ],
        },
    },
]

WSGI_APPLICATION = "registry_site.wsgi.application"


def _database() -> dict:
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        url = f"sqlite:///{os.environ.get('SQLITE_PATH', BASE_DIR / 'db.sqlite3')}"
    config = dj_database_url.parse(url, conn_max_age=envint("DATABASE_CONN_MAX_AGE", 60))
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # Kept open like PostgreSQL's: opening one (and its PRAGMAs) is most of a small read.
        config["CONN_HEALTH_CHECKS"] = True
        config["OPTIONS"] = {
            # IMMEDIATE makes every transaction take the write lock up front, so concurrent
            # writers queue on the busy timeout instead of failing with "database is locked".
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    else:
        config["CONN_HEALTH_CHECKS"] = True
        # A database that does not answer fails a request (503) in seconds, not minutes.
        config.setdefault("OPTIONS", {}).setdefault(
            "connect_timeout", envint("DATABASE_CONNECT_TIMEOUT", 5)
        )
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # `manage.py collectstatic` writes hashed, pre-compressed copies; DEBUG serves the sources.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# Production hardening: on unless DEBUG, each switchable for deployments behind a TLS proxy.
SECURE_SSL_REDIRECT = envbool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
# Load balancers and orchestrators probe the health check over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = envbool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = envint("DJANGO_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = envbool("DJANGO_HSTS_PRELOAD", not DEBUG)
if envbool("DJANGO_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Everything the pages, htmx and Swagger UI load comes from this site; the few inline blocks
# (Swagger UI's bootstrap) carry the per-response nonce.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# Sign-in throttling (django-axes): after LOGIN_FAILURE_LIMIT failed sign-ins for one username,
# or from one address, further attempts are refused with 429 for LOGIN_LOCKOUT_MINUTES. Counts
# the login page, the admin and HTTP basic auth on the MLflow-compatible API; kept in the
# database, so every web process sees the same counts.
AUTHENTICATION_BACKENDS = [
    "models_app.signin.SignInLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=envint("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "models_app.signin.lockout_response"
AXES_CLIENT_IP_CALLABLE = "models_app.signin.client_address"
AXES_VERBOSE = False

# Flavors beyond builtin and mlflow: {"name": "dotted.path.ToFlavor"} (or, from the
# environment, "name=dotted.path,..."). Operators may also add one from the shell with
# `manage.py model_registry flavor register <dotted.path>`; nothing else is ever imported.
MODEL_REGISTRY_FLAVORS: dict[str, str] = {
    name: path
    for name, _, path in (item.partition("=") for item in envlist("MODEL_REGISTRY_FLAVORS", ""))
    if path
}

# The promote gate: aliases that only users allowed to promote may set, move or delete
# (a registration may list its own instead).
MODEL_REGISTRY_PROTECTED_ALIASES = envlist("MODEL_REGISTRY_PROTECTED_ALIASES", "champion")
# The role every signed-in user holds on every registration unless granted more: viewer or none.
MODEL_REGISTRY_DEFAULT_ROLE = os.environ.get("MODEL_REGISTRY_DEFAULT_ROLE", "viewer")
# The trash: how many days a deleted registration or version can be restored before
# `model_registry trash purge --expired` deletes it for good.
MODEL_REGISTRY_TRASH_DAYS = envint("MODEL_REGISTRY_TRASH_DAYS", 30)
# Backends (MLflow tracking URIs) on loopback, private or link-local addresses are refused
# unless this is on: the server would otherwise fetch whatever internal address a user names.
MODEL_REGISTRY_ALLOW_PRIVATE_BACKENDS = envbool("MODEL_REGISTRY_ALLOW_PRIVATE_BACKENDS", False)
# Webhooks: receivers on such addresses are refused by the same rule unless this is on (kept
# apart from backends: an administrator names backends, a model's owner names a webhook).
MODEL_REGISTRY_ALLOW_PRIVATE_WEBHOOKS = envbool("MODEL_REGISTRY_ALLOW_PRIVATE_WEBHOOKS", False)
# A delivery that fails is tried again after WEBHOOK_RETRY_SECONDS, then twice that, and so
# on, WEBHOOK_MAX_ATTEMPTS times in all; each request gives up after WEBHOOK_TIMEOUT_SECONDS.
WEBHOOK_MAX_ATTEMPTS = envint("WEBHOOK_MAX_ATTEMPTS", 6)
WEBHOOK_RETRY_SECONDS = envint("WEBHOOK_RETRY_SECONDS", 30)
WEBHOOK_TIMEOUT_SECONDS = envint("WEBHOOK_TIMEOUT_SECONDS", 10)
# Artifact URIs: the schemes accepted (http/https only to public hosts), and the absolute
# folders under which local paths (plain or file://) are accepted; none by default.
MODEL_REGISTRY_ARTIFACT_SCHEMES = envlist(
    "MODEL_REGISTRY_ARTIFACT_SCHEMES",
    "s3,gs,wasbs,abfss,hdfs,dbfs,runs,models,mlflow-artifacts,http,https",
)
MODEL_REGISTRY_ARTIFACT_LOCAL_ROOTS = envlist("MODEL_REGISTRY_ARTIFACT_LOCAL_ROOTS", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "WARNING")},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "models_app.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["models_app.api.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "models_app.api.pagination.Pagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "models_app.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Rate limits per API token (per user for a browser session) and per address for
    # anonymous callers; also applied to the MLflow-compatible API. Counted in each process's
    # cache, so a deployment of N web processes allows up to N times the rate.
    "DEFAULT_THROTTLE_CLASSES": [
        "models_app.api.authentication.TokenRateThrottle",
        "rest_framework.throttling.AnonRateThrottle",
    ],
    # Proxies whose X-Forwarded-For is trusted for the caller's address (throttles, lockout).
    "NUM_PROXIES": envint(
        "DJANGO_TRUSTED_PROXIES", 1 if envbool("DJANGO_BEHIND_TLS_PROXY", False) else 0
    ),
    "DEFAULT_THROTTLE_RATES": {
        "token": envrate("API_RATE_LIMIT", "3000/min"),
        "anon": envrate("API_ANON_RATE_LIMIT", "60/min"),
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Model registry API",
    "DESCRIPTION": (
        "Register models and versions with metrics, parameters and lineage; promote versions "
        "through None, Staging, Production and Archived. Authenticate with "
        "`Authorization: Bearer <token>` (create one with `manage.py create_token USERNAME` or "
        "on the Tokens page)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"ModelVersionStageEnum": "models_app.models.ModelVersionStage"},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "models_app.api.schema.declare_error_responses",
    ],
}

# Background tasks (registry syncs), run by `manage.py tasks_worker` in its own process: the
# database queue by default, Redis (through RQ) when TASKS_REDIS_URL is set.
TASKS_REDIS_URL = os.environ.get("TASKS_REDIS_URL", "")
if TASKS_REDIS_URL:
    INSTALLED_APPS.append("django_rq")
    RQ_QUEUES = {"default": {"URL": TASKS_REDIS_URL}}
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend"}}
else:
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# What web processes count between requests (API rate limits): per process by default, shared
# by every process and host through Redis when CACHE_REDIS_URL is set.
CACHE_REDIS_URL = os.environ.get("CACHE_REDIS_URL", "")
if CACHE_REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_REDIS_URL,
        }
    }

# An unreachable MLflow server should fail a request in seconds, not after minutes of retries.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")

# The registry that the MLflow-compatible API (/api/2.0/mlflow/) reads and writes.
MLFLOW_API_REGISTRY = os.environ.get("MLFLOW_API_REGISTRY", "default")
# The MLflow tracking server whose runs the versions of that registry come from (empty: none).
# Versions registered with a run id then get the run's metrics and parameters by a task.
MLFLOW_API_TRACKING_URI = os.environ.get("MLFLOW_API_TRACKING_URI", "")
# How often a "metrics pending" version is tried again (waits 1, 2, 4... minutes, at most 60).
RUN_DATA_MAX_ATTEMPTS = envint("RUN_DATA_MAX_ATTEMPTS", 8)

# Input limits, the same on every surface (README "Configuration"). An over-limit request is
# a 400 that names the limit's variable; each is checked before the input is parsed further.
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("MODEL_REGISTRY_MAX_BODY_BYTES", 2_621_440)
DATA_UPLOAD_MAX_NUMBER_FIELDS = envint("MODEL_REGISTRY_MAX_FIELDS", 1000)
MODEL_REGISTRY_MAX_KEYS = envint("MODEL_REGISTRY_MAX_KEYS", 1000)
MODEL_REGISTRY_MAX_KEY_LENGTH = envint("MODEL_REGISTRY_MAX_KEY_LENGTH", 250)
MODEL_REGISTRY_MAX_VALUE_LENGTH = envint("MODEL_REGISTRY_MAX_VALUE_LENGTH", 5000)
MODEL_REGISTRY_MAX_DEPTH = envint("MODEL_REGISTRY_MAX_DEPTH", 20)
MODEL_REGISTRY_MAX_FILTER_LENGTH = envint("MODEL_REGISTRY_MAX_FILTER_LENGTH", 1000)
MODEL_REGISTRY_MAX_FILTER_TERMS = envint("MODEL_REGISTRY_MAX_FILTER_TERMS", 20)
MODEL_REGISTRY_MAX_FILTER_WILDCARDS = envint("MODEL_REGISTRY_MAX_FILTER_WILDCARDS", 10)
