"""Settings, all from the environment.

With no environment at all this is the *embedded default*: SQLite in ``var/``,
a Celery broker on the file system (no server to install) and a per-install
random secret key. ``DATABASE_URL`` / ``CELERY_BROKER_URL`` switch to
PostgreSQL and Redis. ``TAXONOMIST_PRODUCTION=1`` (set by docker compose)
turns debug off, refuses to start without a real ``SECRET_KEY`` and makes
every transport-security setting (HTTPS redirect, HSTS, secure cookies)
default to on: ``manage.py check --deploy`` has nothing to warn about.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("TAXONOMIST_DATA_DIR", BASE_DIR / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


PRODUCTION = _env_bool("TAXONOMIST_PRODUCTION")
DEBUG = _env_bool("DEBUG", default=not PRODUCTION)


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from None


def _env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _secret_key() -> str:
    key = os.environ.get("SECRET_KEY", "")
    if key:
        # 50 characters (5 of them distinct) is what `check --deploy` asks of a key.
        if PRODUCTION and (len(key) < 50 or len(set(key)) < 5 or key.startswith("django-insecure")):
            raise ImproperlyConfigured("SECRET_KEY is too weak for production (50+ random characters).")
        return key
    if PRODUCTION:
        raise ImproperlyConfigured("TAXONOMIST_PRODUCTION=1 needs a SECRET_KEY in the environment.")
    # Embedded default: one random key per install, kept beside the database.
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "annotator.studies",
    "annotator.corpus",
    "annotator.jobs",
    "sampling.question_sets",
    "sampling.draws",
    "taxonomy.review.agreement",
    "taxonomy.tree",
    "taxonomy.coding",
    "taxonomy.labelling",
    "taxonomy.review.arbitration",
    "taxonomy.results",
    "taxonomy.classifier",
    "annotator.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything reads the body (CsrfViewMiddleware reads the form of every POST).
    "annotator.middleware.UploadLengthLimitMiddleware",
    "annotator.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # A job started while the job queue is unreachable: a 503 with a message, page or JSON.
    "annotator.jobs.middleware.JobQueueUnavailableMiddleware",
    # With DEBUG on, the project's 404 page instead of Django's technical one (annotator/errors.py).
    "annotator.errors.NotFoundPageMiddleware",
    # Turns a sign-in refused for too many failures into the lock-out page (last, as axes asks).
    "axes.middleware.AxesMiddleware",
]

if PRODUCTION:  # runserver serves static files in development
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "annotator.urls"
WSGI_APPLICATION = "annotator.wsgi.application"

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
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{DATA_DIR / 'taxonomist.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Connections are kept between requests (CONN_MAX_AGE, as on PostgreSQL): opening the file,
    # setting WAL and closing it again on every request cost a third of a label submission.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # WAL lets the web server read while the job worker writes;
            # IMMEDIATE makes writers queue instead of failing half-way.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
    )
    # A file (not :memory:) so that a real worker process can share the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-taxonomist.sqlite3")}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Parameters bound by the server, so that psycopg prepares a statement once a connection has
    # run it DATABASE_PREPARE_THRESHOLD times (default 5): the same few queries of every request
    # (a token, a membership, a label) are then parsed and planned once per connection instead of
    # every time. "off" for a pooler that cannot keep prepared statements (PgBouncer in transaction
    # mode before 1.21).
    _prepare = os.environ.get("DATABASE_PREPARE_THRESHOLD", "5").strip().lower()
    if _prepare != "off":
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            {"server_side_binding": True, "prepare_threshold": int(_prepare)})

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Axes first: it refuses a locked-out user before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", DATA_DIR / "staticfiles"))
MEDIA_ROOT = Path(os.environ.get("TAXONOMIST_MEDIA_ROOT", DATA_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "studies:list"
LOGOUT_REDIRECT_URL = "login"

# --- Transport security -------------------------------------------------------
# Each from the environment; on by default in production (behind a TLS proxy),
# off by default in development (runserver speaks plain HTTP).
SECURE_SSL_REDIRECT = _env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_HSTS_SECONDS = _env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
SECURE_HSTS_PRELOAD = _env_bool("SECURE_HSTS_PRELOAD", PRODUCTION)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = _env_bool("SECURE_COOKIES", PRODUCTION)
SECURE_CONTENT_TYPE_NOSNIFF = True
# "HTTP_X_FORWARDED_PROTO,https": the TLS proxy in front says which requests came over HTTPS.
# Only set it when that proxy always sets (or strips) the header: a client could send it too.
_proxy_ssl_header = _env_list("SECURE_PROXY_SSL_HEADER", "")
if _proxy_ssl_header:
    if len(_proxy_ssl_header) != 2:
        raise ImproperlyConfigured("SECURE_PROXY_SSL_HEADER is 'HEADER,value', e.g. 'HTTP_X_FORWARDED_PROTO,https'.")
    SECURE_PROXY_SSL_HEADER = tuple(_proxy_ssl_header)

# --- Sign-in throttling (django-axes) ------------------------------------------
# After TAXONOMIST_LOGIN_FAILURE_LIMIT failed sign-ins (page, admin or token endpoint)
# for one username, or from one address, that username or address is refused until
# TAXONOMIST_LOGIN_COOLOFF_MINUTES have passed since its last failure (0: until an admin
# unlocks it with `manage.py axes_reset_username NAME` or `axes_reset_ip ADDRESS`).
AXES_FAILURE_LIMIT = _env_int("TAXONOMIST_LOGIN_FAILURE_LIMIT", 10)
_cooloff_minutes = _env_int("TAXONOMIST_LOGIN_COOLOFF_MINUTES", 15)
AXES_COOLOFF_TIME = timedelta(minutes=_cooloff_minutes) if _cooloff_minutes > 0 else None
# Comma-separated; "a+b" counts the pair only (e.g. "username,ip_address+username").
AXES_LOCKOUT_PARAMETERS = [
    item.split("+") if "+" in item else item
    for item in _env_list("TAXONOMIST_LOGIN_LOCKOUT_PARAMETERS", "username,ip_address")
]
# A success must not wipe the failures: it would wipe those from the same address
# against other accounts too, so an attacker with an account could reset them at will.
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_CALLABLE = "annotator.accounts.lockout.lockout_response"
AXES_VERBOSE = False  # no banner on the console at each start of a command or worker
# The client's address: REMOTE_ADDR, or, behind TAXONOMIST_PROXY_COUNT reverse proxies
# that each append to X-Forwarded-For, the address the outermost of them saw.
TAXONOMIST_PROXY_COUNT = _env_int("TAXONOMIST_PROXY_COUNT", 0)
if TAXONOMIST_PROXY_COUNT > 0:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    # ipware counts the proxies listed in X-Forwarded-For; the nearest one is REMOTE_ADDR, not listed.
    AXES_IPWARE_PROXY_COUNT = TAXONOMIST_PROXY_COUNT - 1
else:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)

# --- API tokens ------------------------------------------------------------------
# A token older than this answers 401; POST /api/auth/token/ then gives a new one. 0: never expires.
TAXONOMIST_TOKEN_TTL_HOURS = _env_int("TAXONOMIST_TOKEN_TTL_HOURS", 30 * 24)

# --- Uploads and import limits -------------------------------------------------
# Browser/API uploads above this size are refused before they fill the disk;
# multi-GB dumps go through `manage.py import_stackexchange`.
TAXONOMIST_MAX_UPLOAD_BYTES = int(os.environ.get("TAXONOMIST_MAX_UPLOAD_BYTES", 512 * 1024 * 1024))
# A row whose Body/Title/Text is larger than this is rejected (Stack Exchange caps posts at 30,000 characters).
TAXONOMIST_MAX_FIELD_BYTES = int(os.environ.get("TAXONOMIST_MAX_FIELD_BYTES", 1024 * 1024))
# An unfiltered import of at least this many bytes has its files read by child processes
# (TAXONOMIST_IMPORT_READERS of them, in chunks of TAXONOMIST_IMPORT_CHUNK_BYTES) while this
# one writes (annotator/corpus/read_process.py); other imports read in the importing process.
TAXONOMIST_IMPORT_CHILD_BYTES = int(os.environ.get("TAXONOMIST_IMPORT_CHILD_BYTES", 16 * 1024 * 1024))
TAXONOMIST_IMPORT_READERS = max(1, int(os.environ.get("TAXONOMIST_IMPORT_READERS", min(4, os.cpu_count() or 1))))
TAXONOMIST_IMPORT_CHUNK_BYTES = int(os.environ.get("TAXONOMIST_IMPORT_CHUNK_BYTES", 4 * 1024 * 1024))
FILE_UPLOAD_HANDLERS = [
    "annotator.corpus.upload_limits.SizeLimitedUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
FILE_UPLOAD_TEMP_DIR = None

# --- REST framework ------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "annotator.accounts.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "annotator.api_utils.PageNumbers",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # The browsable API (HTML forms) is for development: production answers JSON only.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if _env_bool("TAXONOMIST_BROWSABLE_API", DEBUG) else []),
    # The services' ValidationError / PermissionDenied / Http404 and a database outage, in one place.
    "EXCEPTION_HANDLER": "annotator.errors.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Taxonomist API",
    "DESCRIPTION": "Studies, members, Stack Exchange imports, posts and background jobs.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Named after their model, so that another "action" or "kind" choice never clashes.
    "ENUM_NAME_OVERRIDES": {
        "ManualDecisionActionEnum": "sampling.question_sets.models.ManualDecision.Action",
        "FinalKindEnum": "taxonomy.review.arbitration.models.FinalKind",
        "LabelKindEnum": "taxonomy.labelling.models.LabelKind",
    },
    # Request bodies apart from responses: "minLength: 1" where blank is refused, and so on.
    "COMPONENT_SPLIT_REQUEST": True,
    # The API is documented as JSON (the forms DRF also parses are for the browsable API and tests).
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    # The errors every operation shares (400/401/403/404/503), documented in one place.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "annotator.api_schema.error_responses"],
}

# --- Celery --------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
if not CELERY_BROKER_URL:
    # Embedded default: messages are files, a worker polls the folder. No server.
    _broker_dir = DATA_DIR / "celery-broker"
    _broker_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "control_folder": str(_broker_dir / "control"),
        "polling_interval": 0.5,
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True  # results live in the Job row
CELERY_TASK_ACKS_LATE = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = int(os.environ.get("CELERY_TASK_TIME_LIMIT", 6 * 3600))
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
