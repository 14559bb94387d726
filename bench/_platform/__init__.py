"""Bench-only wiring for bench/platform.py: a Django redirect route and a hot-path handler."""
