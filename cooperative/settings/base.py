"""Coopdesk settings, read from the environment (django-environ). `.env.example` lists every variable.

Embedded default (no variables set, DJANGO_DEBUG=true): SQLite file, eager Celery, database cache,
files under media/. Production sets DATABASE_URL (PostgreSQL) and REDIS_URL (cache + Celery broker).
"""

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
if env.bool("DJANGO_READ_DOT_ENV", default=True):  # false: only the real environment counts (tests)
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# No default outside debug: a production server without a secret must fail at startup.
SECRET_KEY = (
    env("DJANGO_SECRET_KEY", default="insecure-local-development-key-never-use-in-production")
    if DEBUG
    else env("DJANGO_SECRET_KEY")
)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "cooperative.admin_config.CoopAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "simple_history",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "django_celery_beat",
    "cooperative.apps.CooperativeConfig",
    "members.apps.MembersConfig",
    "ledger.apps.LedgerConfig",
    "loans.apps.LoansConfig",
    "approvals.apps.ApprovalsConfig",
]
# The synthetic-data generator (`generate_data`, which writes legs by COPY with the ledger's triggers
# off) is benchmark and demo tooling: installed only when asked for, never by default in production.
ENABLE_DATAGEN = env.bool("COOP_ENABLE_DATAGEN", default=False)
if ENABLE_DATAGEN:
    INSTALLED_APPS.append("datagen.apps.DatagenConfig")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "cooperative.middleware.RequestIdMiddleware",
    # The request being served, for audit receivers and scoped serializer fields (request_context.py).
    "cooperative.request_context.RequestContextMiddleware",
    "cooperative.middleware.ApiProblemFallbackMiddleware",
    "cooperative.middleware.ServiceUnavailableMiddleware",
    "cooperative.middleware.BodySizeLimitMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "cooperative.middleware.StaffSessionIdleTimeoutMiddleware",
    "cooperative.middleware.StaffMFAMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # A CHANGE_REQUEST audit row (user, client IP, request id) for every successful admin/API change.
    "cooperative.middleware.ChangeRequestAuditMiddleware",
    # Turns django-ratelimit's Ratelimited into RATELIMIT_VIEW's 429 (otherwise it is a 403).
    "django_ratelimit.middleware.RatelimitMiddleware",
    # Last, as axes asks: it turns a lockout raised by the backend into the lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "cooperative.urls"
WSGI_APPLICATION = "cooperative.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Listed first so Coopdesk's admin overrides (login, base_site) win over django.contrib.admin's,
        # which INSTALLED_APPS puts ahead of the cooperative app.
        "DIRS": [BASE_DIR / "cooperative" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cooperative.context_processors.coopdesk",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'coopdesk.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, seed, tests) share the file: wait for the write lock instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
# The ledger's two posting statements are prepared once per connection (PostgreSQL parses and plans
# them once, not at every deposit). Set false behind a pooler in transaction mode that cannot keep
# prepared statements (PgBouncer < 1.21, or without max_prepared_statements).
LEDGER_PREPARED_STATEMENTS = env.bool("DATABASE_PREPARED_STATEMENTS", default=True)
if IS_POSTGRES and LEDGER_PREPARED_STATEMENTS:
    # Django turns psycopg's prepared statements off (threshold None), which also ignores an
    # explicit `prepare=True`. A threshold never reached keeps every other query unprepared.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 2**31 - 1)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, Celery --------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")


def redis_caches(url: str) -> dict:
    """Redis behind `cooperative.cache.ResilientCache`, so that a Redis outage degrades instead of
    failing: the default cache misses (permissions and approval policies are read from the
    database), the rate limits count in the database cache (createcachetable), never failing open."""
    return {
        "redis": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                # An unreachable Redis must cost a request a second, not hang it.
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 1,
            },
        },
        "database": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "coopdesk_cache"},
        "default": {"BACKEND": "cooperative.cache.ResilientCache", "OPTIONS": {"PRIMARY": "redis"}},
        "ratelimit": {
            "BACKEND": "cooperative.cache.ResilientCache",
            "OPTIONS": {"PRIMARY": "redis", "FALLBACK": "database"},
        },
    }


if REDIS_URL:
    CACHES = redis_caches(REDIS_URL)
    RATELIMIT_USE_CACHE = "ratelimit"
else:
    # A database cache is shared between processes, so rate limits and lockouts hold.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "coopdesk_cache",
        }
    }

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL  # no broker: run jobs inline, as a newcomer expects
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_TIME_LIMIT = 300
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "Africa/Lagos"

# --- Auth -----------------------------------------------------------------------------------------
AUTH_USER_MODEL = "cooperative.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out users before anything else
    "cooperative.security.ActiveUserModelBackend",  # ModelBackend that also reads User.status
    "guardian.backends.ObjectPermissionBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row; object grants are for staff only

# Staff MFA (django-otp TOTP). Production default true; `make run` sets it false for the demo.
REQUIRE_STAFF_MFA = env.bool("REQUIRE_STAFF_MFA", default=True)
OTP_TOTP_ISSUER = "Coopdesk"
# Never show TOTP secrets, QR codes or backup codes of existing devices in the admin: AUDITOR holds
# every view permission and could otherwise read anyone's second factor.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
STAFF_SESSION_IDLE_TIMEOUT = env.int("STAFF_SESSION_IDLE_TIMEOUT", default=15 * 60)  # seconds

# Client IP: REMOTE_ADDR, or the header named here only when a trusted proxy sets it.
TRUSTED_PROXY_HEADER = env("TRUSTED_PROXY_HEADER", default="")

# django-axes: lock per user and per client IP after 5 failures.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "cooperative.security.axes_username"
AXES_CLIENT_IP_CALLABLE = "cooperative.security.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "cooperative/locked_out.html"
AXES_ENABLE_ADMIN = True

# django-ratelimit: the same client IP rule; a shared cache (database or Redis).
RATELIMIT_IP_META_KEY = "cooperative.security.client_ip"
RATELIMIT_VIEW = "cooperative.views.ratelimited"
LOGIN_RATE_LIMIT = env("LOGIN_RATE_LIMIT", default="20/m")

# --- I18N -----------------------------------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Africa/Lagos"
USE_I18N = True
USE_TZ = True

# --- Static and media -----------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "media/"
MEDIA_ROOT = env("MEDIA_ROOT", default=str(BASE_DIR / "media"))
STORAGES = {
    "default": {
        "BACKEND": env("DEFAULT_FILE_STORAGE", default="django.core.files.storage.FileSystemStorage")
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME", default="")
AWS_S3_ENDPOINT_URL = env("AWS_S3_ENDPOINT_URL", default="") or None
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)

# --- Email ----------------------------------------------------------------------------------------
EMAIL_CONFIG = env.email("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Coopdesk <no-reply@coopdesk.local>")

# --- REST framework -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "cooperative.api.authentication.ActiveUserJWTAuthentication",
        "cooperative.api.authentication.MFASessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["cooperative.api.permissions.DefaultApiPermission"],
    "DEFAULT_PAGINATION_CLASS": "cooperative.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "ORDERING_PARAM": "ordering",
    "EXCEPTION_HANDLER": "cooperative.api.errors.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "COERCE_DECIMAL_TO_STRING": True,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=1)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "ALGORITHM": "HS256",
    "USER_ID_FIELD": "id",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Coopdesk API",
    "DESCRIPTION": "Back office API of a savings-and-credit cooperative. Money is sent as strings.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a `status`/`type`; name the core's enums so components stay stable.
    # Domain apps add their own entries here when their enums collide.
    "ENUM_NAME_OVERRIDES": {
        "BranchStatusEnum": "cooperative.models.Branch.Status",
        "UserStatusEnum": "cooperative.models.User.Status",
        "AuditLogEventEnum": "cooperative.models.AuditLog.Event",
        # Domain enums that collide on `status` / `type` (their owners may rename these).
        "MemberStatusEnum": "members.models.Member.Status",
        "AccountStatusEnum": "ledger.models.Account.Status",
        "SideEnum": "ledger.models.Side",
        "ApprovalRequestStatusEnum": "approvals.models.ApprovalRequest.Status",
        "ApprovalDecisionEnum": "approvals.models.Approval.Decision",
    },
    # `check --deploy` is about security settings; the schema has its own gate
    # (`spectacular --validate --fail-on-warn`, tests/cooperative/test_security_settings.py, .ci/run).
    "ENABLE_DJANGO_DEPLOY_CHECK": False,
}

# --- Security -------------------------------------------------------------------------------------
# System checks to silence, e.g. cooperative.W001 where the app deliberately connects as the
# PostgreSQL superuser (a CI database). Never in production.
SILENCED_SYSTEM_CHECKS = env.list("DJANGO_SILENCED_CHECKS", default=[])
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_REDIRECT_EXEMPT = [r"^health/"]  # the load balancer probes over plain HTTP
if TRUSTED_PROXY_HEADER:
    # The proxy that sets the client IP header also terminates TLS and says so.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# django-csp 4: no third-party origins; Swagger UI assets come from drf-spectacular-sidecar.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

# --- Coopdesk ---------------------------------------------------------------------------------------
COOP_NAME = env("COOP_NAME", default="Coopdesk Cooperative Society")
COOP_CURRENCY = env("COOP_CURRENCY", default="NGN")
# CBN institution code used for NUBAN-style check digits on our account numbers.
COOP_INSTITUTION_CODE = env("COOP_INSTITUTION_CODE", default="50547")
# Key for encrypting BVN/NIN at rest; derived from SECRET_KEY when unset (set it in production).
FIELD_ENCRYPTION_KEY = env("FIELD_ENCRYPTION_KEY", default="")
DEMO_MODE = env.bool("COOP_DEMO_MODE", default=False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

# Domain API route modules, included under /api/v1/ (cooperative imports no domain app).
COOP_API_URLCONFS = [
    "members.api.urls",
    "ledger.api.urls",
    "ledger.api.statement_urls",
    "loans.api.urls",
    "approvals.api.urls",
]
# Password for seed_demo's users; only `make run` sets it. Never used in production.
DEMO_PASSWORD = env("COOP_DEMO_PASSWORD", default="")

# Product rules for member accounts opened without explicit values (amounts as strings).
LEDGER_ACCOUNT_DEFAULTS = {
    "SAVINGS": {
        "minimum_balance": env("SAVINGS_MINIMUM_BALANCE", default="0.00"),
        "daily_withdrawal_limit": env("SAVINGS_DAILY_WITHDRAWAL_LIMIT", default=""),
    },
    "SHARES": {"minimum_balance": "0.00"},
    "CASH": {"minimum_balance": "0.00"},
}
# The absolute ceiling per posting (ledger.services.post_entry): an entry moving more is refused
# outright, whoever posts it (docs/members-and-ledger.md, "Money controls").
POSTING_CEILING = Decimal(env("POSTING_CEILING", default="100000000.00"))
# Tiered KYC (ledger/kyc.py; CBN three-tiered KYC defaults): deposits beyond the member's tier are
# refused. Tier I (KYC not verified), tier II (verified with a BVN); tier III (BVN and NIN) has none.
KYC_TIER_LIMITS = env.bool("KYC_TIER_LIMITS", default=True)
KYC_TIER1_MAX_DEPOSIT = Decimal(env("KYC_TIER1_MAX_DEPOSIT", default="50000.00"))
KYC_TIER1_MAX_BALANCE = Decimal(env("KYC_TIER1_MAX_BALANCE", default="300000.00"))
KYC_TIER2_MAX_DEPOSIT = Decimal(env("KYC_TIER2_MAX_DEPOSIT", default="100000.00"))
KYC_TIER2_MAX_BALANCE = Decimal(env("KYC_TIER2_MAX_BALANCE", default="500000.00"))
# Large-cash report (ledger/large_cash.py, docs/large-cash.md): cash movements at or above the
# threshold of the member's category are listed for the currency transaction report; several cash
# deposits each just below it (within the margin) by one member inside the window are flagged.
LARGE_CASH_THRESHOLD_INDIVIDUAL = Decimal(env("LARGE_CASH_THRESHOLD_INDIVIDUAL", default="5000000.00"))
LARGE_CASH_THRESHOLD_ORGANISATION = Decimal(env("LARGE_CASH_THRESHOLD_ORGANISATION", default="10000000.00"))
STRUCTURING_MIN_COUNT = env.int("STRUCTURING_MIN_COUNT", default=3)
STRUCTURING_WINDOW_DAYS = env.int("STRUCTURING_WINDOW_DAYS", default=7)
STRUCTURING_MARGIN_PERCENT = Decimal(env("STRUCTURING_MARGIN_PERCENT", default="10"))
# Mount the benchmark's bare baseline endpoint (bench/postings.py). Never in production.
BENCH_BASELINE_ENDPOINT = env.bool("COOP_BENCH_BASELINE", default=False)
