"""The project's settings plus one bench-only URLconf (nothing else changes)."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench._platform.urls"
