"""Settings, all read from the environment with safe production defaults.

DATABASE_URL, REDIS_URL, SECRET_KEY, DEBUG, ALLOWED_HOSTS and LEDGER_SIGNING_KEY are the knobs;
`make run` / `make test` export them for the project-local services they start.
"""
import json
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY") or ("dev-insecure-key" if DEBUG else None)
# Strings that were ever published in this repository (scripts, compose, Dockerfile, docs): never a
# production key. `make run`/`make test` generate a random key under .state/ instead (scripts/secrets.sh).
KNOWN_INSECURE_KEYS = frozenset({
    "dev-insecure-key", "local-dev-secret-not-for-production", "test-secret-key", "change-me-compose-secret-key",
    "collectstatic-only", "bench-secret-not-for-production", "bench-ledger-key", "change-me", "secret",
})


def _read_key_file(path: str | None) -> str | None:
    return Path(path).read_text() if path else None


# The ledger's Ed25519 checkpoint key (PEM or 64 hex digits), in the environment or a file (ledger.keys).
LEDGER_SIGNING_KEY = os.environ.get("LEDGER_SIGNING_KEY") or _read_key_file(os.environ.get("LEDGER_SIGNING_KEY_FILE"))
# The old HMAC secret, only to re-check checkpoints signed before Ed25519 (README: checkpoint keys).
LEDGER_LEGACY_HMAC_KEY = os.environ.get("LEDGER_LEGACY_HMAC_KEY") or None


def _refuse_insecure_keys() -> None:
    """With DEBUG off: no missing, published or weak SECRET_KEY, and a valid ledger key of its own."""
    from django.core.exceptions import ImproperlyConfigured

    if not SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    if (SECRET_KEY in KNOWN_INSECURE_KEYS or SECRET_KEY.startswith("django-insecure")
            or len(SECRET_KEY) < 32 or len(set(SECRET_KEY)) < 8):
        raise ImproperlyConfigured("SECRET_KEY is a published or development key (or shorter than 32 "
                                   "characters): generate one, e.g. python -c 'import secrets; "
                                   "print(secrets.token_urlsafe(50))'")
    if not LEDGER_SIGNING_KEY:
        raise ImproperlyConfigured("LEDGER_SIGNING_KEY (or LEDGER_SIGNING_KEY_FILE) must be set when DEBUG is off: "
                                   "python -m ledger.keys generate > ledger-signing-key.pem")
    if LEDGER_SIGNING_KEY.strip() == SECRET_KEY.strip() or LEDGER_SIGNING_KEY.strip() in KNOWN_INSECURE_KEYS:
        raise ImproperlyConfigured("LEDGER_SIGNING_KEY must be a key of its own, not SECRET_KEY or a published one")
    from ledger.keys import BadKey, load_private_key

    try:
        load_private_key(LEDGER_SIGNING_KEY)
    except BadKey as exc:
        raise ImproperlyConfigured(f"LEDGER_SIGNING_KEY: {exc}") from None


if not DEBUG:
    _refuse_insecure_keys()
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1").split(",") if h.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from this project (no CDN)
    "core",
    "accounts",
    "ledger",
    "marketplace",
    "trading",
    "oversight",
    "compensation",  # compensation between regions (above oversight, below the console)
    "assistance",  # paired assistance and farmland buyers' support (above oversight)
    "compliance",  # the compliance cycle (quota management), above oversight
    "reserve",  # the government reserve (收储), above oversight
    "django_htmx",
    "console",  # the web console: the top layer, above oversight
]
if env_bool("ENABLE_BENCH_APP"):  # `make bench` only: the bare ceiling endpoint and task (bench/)
    INSTALLED_APPS.append("bench")

MIDDLEWARE = [
    "core.middleware.RequestIdMiddleware",
    "core.middleware.ApiLimitsMiddleware",  # body size, NUL, Cache-Control: no-store under /api/
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.ContentSecurityPolicyMiddleware",  # admin and API docs
    "whitenoise.middleware.WhiteNoiseMiddleware",  # the admin's static files under gunicorn
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "console.middleware.ConsoleLanguageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "accounts.refusals.RefusalAuditMiddleware",  # every 403 under /api/ is an audit event (bounded)
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "accounts.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", "postgres://exchange@127.0.0.1:55432/exchange"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
    )
}
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("TEST_DATABASE_NAME", "test_exchange")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:56379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": os.environ.get("CACHE_PREFIX", "rx"),
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.IsMember"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.StrictJSONParser"],  # size, depth and NUL limits
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "core.api.DefaultPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.handlers.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"login": os.environ.get("LOGIN_THROTTLE", "10/min")},
    "UNAUTHENTICATED_USER": None,
    # Behind a reverse proxy set NUM_PROXIES so that throttling sees the client's address, not the proxy's.
    "NUM_PROXIES": int(os.environ["NUM_PROXIES"]) if os.environ.get("NUM_PROXIES") else None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Fujian Cross-Region Resource Rights Exchange API",
    "DESCRIPTION": "Emission, water, farmland, energy-use, carbon and power-generation rights: "
    "listings, order books, escrow, settlement and a verifiable ledger.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # the docs pages load nothing from another host (README: security; CSP in core.middleware)
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # no validator badge: Swagger UI would otherwise send the schema's URL to validator.swagger.io
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "ENUM_NAME_OVERRIDES": {
        "OrganizationKindEnum": "accounts.models.OrganizationKind",
        "OrganizationStatusEnum": "accounts.models.OrganizationStatus",
        "MembershipRoleEnum": "accounts.models.Role",
        "RegionLevelEnum": "accounts.models.RegionLevel",
        "ListingKindEnum": "trading.models.listings.ListingKind",
        "TradeStatusEnum": "trading.models.trades.TradeStatus",
        "MarketStatusEnum": "marketplace.models.MarketStatus",
    },
    # tags and operationIds from the path after /api/v1 (core.schema.postprocess names resources)
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "core.schema.postprocess"],
}

API_TOKEN_TTL = timedelta(hours=int(os.environ.get("API_TOKEN_TTL_HOURS", "12")))

# Celery: the message is only a nudge; the outbox row is the durable truth (see trading.tasks).
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Each worker process keeps a few messages at hand: with acks_late and a prefetch of 1, a process sat idle
# between tasks while the parent acked, fetched and reserved the next message (three Redis round trips;
# measured: the settling process waited half of the time). Messages reserved by a worker that dies are
# delivered again (visibility timeout) and the outbox sweeper re-sends pending settlements long before.
CELERY_WORKER_PREFETCH_MULTIPLIER = int(os.environ.get("CELERY_WORKER_PREFETCH_MULTIPLIER", "4"))
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 300, "socket_connect_timeout": 2}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY = False  # never block a committed request on a broker outage: the sweeper resends
SETTLEMENT_SWEEP_AFTER_SECONDS = float(os.environ.get("SETTLEMENT_SWEEP_AFTER_SECONDS", "10"))
# Keep DB connections across tasks (Celery's Django fixup otherwise closes after every task).
CELERY_DB_REUSE_MAX = int(os.environ.get("CELERY_DB_REUSE_MAX", "1000"))
SETTLEMENT_QUEUES = int(os.environ.get("SETTLEMENT_QUEUES", "4"))
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # worker and beat log through LOGGING (core.logs), as the web does
CELERY_BEAT_SCHEDULE = {}  # filled by each app's `beat_schedule` in config.celery

LEDGER_SEAL_INTERVAL_SECONDS = float(os.environ.get("LEDGER_SEAL_INTERVAL_SECONDS", "5"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "core.logs.ContextLogFilter"}},
    "formatters": {
        "json": {"()": "core.logs.JsonLogFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- input limits (README: security) -----------------------------------------------------------------
# Request bodies above this many bytes are refused with 413 before they are read (Content-Length) or
# while they are read (chunked); Django's own form parsing uses the same limit.
REQUEST_MAX_BYTES = int(os.environ.get("REQUEST_MAX_BYTES", str(1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_MAX_BYTES
# JSON nested deeper than this is refused (400) before it is parsed (no recursion on attacker input).
JSON_MAX_DEPTH = int(os.environ.get("JSON_MAX_DEPTH", "32"))
# Plausibility caps per unit, in whole units: an amount (deposit, issuance, order, listing, bid) above
# its unit's cap is refused with 400 amount_out_of_range; units not listed use "*". Every amount is also
# kept below 2**62 minor units so that a sum of two never overflows PostgreSQL's bigint. Override as
# JSON, e.g. AMOUNT_CAPS='{"CNY": "1000000000000", "t": "100000000"}'.
AMOUNT_CAPS = {
    "CNY": "1000000000000",  # 1 trillion yuan: a price per unit, a deposit or a withdrawal
    "t": "100000000",  # emission rights, tonnes
    "tCO2": "10000000000",  # carbon allowances
    "tce": "1000000000",  # energy-use rights, tonnes of coal equivalent
    "m3": "1000000000000",  # water rights
    "mu": "100000000",  # farmland quota (Fujian's land area is about 1.8e8 mu)
    "MWh": "10000000000",  # power generation rights
    "*": "1000000000000",
    **json.loads(os.environ.get("AMOUNT_CAPS", "{}")),
}

SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
LOGIN_URL = "/login/"
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
# Served over HTTPS (SECURE_HTTPS=1, e.g. behind a TLS-terminating proxy that sets X-Forwarded-Proto):
# HSTS for a year, cookies only over HTTPS, plain HTTP redirected (health checks stay reachable).
SECURE_HTTPS = env_bool("SECURE_HTTPS", False)
if SECURE_HTTPS:
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    if env_bool("TRUST_X_FORWARDED_PROTO", True):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


# --- who may do what (#14; README "Who may do what") -------------------------------------------------
def _limits(name: str) -> dict:
    """`KIND=minor units,…` → {kind: int}; a kind not named needs two people whatever the amount."""
    out = {}
    for part in os.environ.get(name, "").split(","):
        if "=" in part:
            kind, value = part.split("=", 1)
            out[kind.strip()] = int(value)
    return out


# Maker–checker: deposits, withdrawals and transfers (operator-initiated) and issuance are proposed by one
# person and confirmed by another. Below these amounts (minor units of the moved asset) one person suffices;
# default: none, i.e. always two. e.g. FOUR_EYES_SINGLE_PERSON_BELOW="deposit=100000,withdraw=100000".
FOUR_EYES_SINGLE_PERSON_BELOW = _limits("FOUR_EYES_SINGLE_PERSON_BELOW")

# Login lockout per client address and per account, the admin login included (accounts.lockout): after
# `account_failures` (address: `address_failures`) failed passwords the key is locked for `base_seconds`,
# doubling with each further failure up to `max_seconds`; counts decay `reset_seconds` after the last one.
LOGIN_LOCKOUT = {
    "account_failures": int(os.environ.get("LOGIN_LOCKOUT_ACCOUNT_FAILURES", "5")),
    "address_failures": int(os.environ.get("LOGIN_LOCKOUT_ADDRESS_FAILURES", "20")),
    "base_seconds": int(os.environ.get("LOGIN_LOCKOUT_BASE_SECONDS", "60")),
    "max_seconds": int(os.environ.get("LOGIN_LOCKOUT_MAX_SECONDS", "3600")),
    "reset_seconds": int(os.environ.get("LOGIN_LOCKOUT_RESET_SECONDS", "86400")),
}
# Refusals (failed logins, lockouts, 403s) written to the audit log per (actor or address, kind) and minute;
# the rest are counted and reported on the next event written (accounts.refusals).
AUDIT_REFUSALS_PER_MINUTE = int(os.environ.get("AUDIT_REFUSALS_PER_MINUTE", "10"))
# Load limits (#14 item 12): order placement/cancel/reduce per acting organization (DRF rate, e.g. "20/s");
# open orders per organization and market (0: no cap); full ledger verification runs as a Celery job, one
# at a time (a run still queued/running after LEDGER_VERIFY_STALE_SECONDS no longer blocks a new one).
ORDER_RATE_LIMIT = os.environ.get("ORDER_RATE_LIMIT", "20/s")
MAX_OPEN_ORDERS_PER_MARKET = int(os.environ.get("MAX_OPEN_ORDERS_PER_MARKET", "200"))
# Order matching (#19, `trading.orderbook.engine`): "inline" matches in the placing transaction (the
# default); "engine" accepts (202) and a sequenced engine per market matches (`manage.py matching_engine`).
# ENGINE_MARKETS: market ids matched by the engine while the default is inline. ENGINE_EAGER: run the
# engine in the accepting process after commit (tests, a single-process demo). ENGINE_SETTLE: the engine
# settles the trades it matches inside its batch (DvP from the held escrow; "0": through the outbox, as
# inline). PREFER_WAIT_MAX: the longest `Prefer: wait` honoured, in seconds; PREFER_WAIT_POLL: while
# waiting (which listens for the engine's NOTIFY), the slow re-check of the database that bounds the
# delay of a lost notification.
ORDER_MATCHING = os.environ.get("ORDER_MATCHING", "inline")
ENGINE_MARKETS = [int(x) for x in os.environ.get("ENGINE_MARKETS", "").split(",") if x.strip()]
ENGINE_EAGER = os.environ.get("ENGINE_EAGER", "0") == "1"
ENGINE_SETTLE = os.environ.get("ENGINE_SETTLE", "1") == "1"
PREFER_WAIT_MAX = float(os.environ.get("PREFER_WAIT_MAX", "10"))
PREFER_WAIT_POLL = float(os.environ.get("PREFER_WAIT_POLL", "0.5"))
LEDGER_VERIFY_STALE_SECONDS = int(os.environ.get("LEDGER_VERIFY_STALE_SECONDS", "3600"))
