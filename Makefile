# The two commands: `make run` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# Short URLs and CSRF origins follow the address `make run` serves unless told otherwise.
PUBLIC_BASE_URL ?= http://$(HOST):$(PORT)
WEB_CONCURRENCY ?= 2
CELERY_CONCURRENCY ?= 2
PYTEST_WORKERS ?= 2
# `make cluster`: WEB_NODES uvicorns (WEB_CONCURRENCY workers each) and WORKER_NODES Celery workers
# behind HAProxy on CLUSTER_HOST:CLUSTER_PORT, against DATABASE_URL and REDIS_URL (both required).
WEB_NODES ?= 2
WORKER_NODES ?= 2
CLUSTER_HOST ?= $(HOST)
CLUSTER_PORT ?= $(PORT)
CLUSTER_TEST_TIMEOUT ?= 600

.PHONY: install run test lint format superuser bench clean cluster cluster-test

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

# Production behaviour (DEBUG=0) unless `DEBUG=1 make run`. supervisord runs web, worker, beat
# and the embedded Redis in the foreground, restarting whichever dies; Ctrl-C stops them all.
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	PUBLIC_BASE_URL=$(PUBLIC_BASE_URL) WEB_HOST=$(HOST) WEB_PORT=$(PORT) WEB_CONCURRENCY=$(WEB_CONCURRENCY) CELERY_CONCURRENCY=$(CELERY_CONCURRENCY) \
		$(PY) -m core.process_manager

# A deployment with its own DATABASE_URL must bring its own SECRET_KEY; the suite has a throwaway one.
test: install
	SECRET_KEY="$${SECRET_KEY:-insecure-test-only-key}" $(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

superuser: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py createsuperuser

# Several web and worker nodes on this machine behind HAProxy (installed from Debian when missing).
cluster: install
	@$(PY) -c 'import os, sys; from core.cluster import ClusterError, require_shared_backends as r; \
	  exec("try: r(os.environ)\nexcept ClusterError as e: sys.exit(f\"make cluster: {e}\")")'
	@command -v haproxy >/dev/null || test -x /usr/sbin/haproxy || \
		(DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null)
	WEB_NODES=$(WEB_NODES) WORKER_NODES=$(WORKER_NODES) CLUSTER_HOST=$(CLUSTER_HOST) CLUSTER_PORT=$(CLUSTER_PORT) \
		WEB_CONCURRENCY=$(WEB_CONCURRENCY) CELERY_CONCURRENCY=$(CELERY_CONCURRENCY) \
		$(PY) -m core.cluster

# The cluster suite (tests/cluster): real nodes against CLUSTER_DATABASE_URL and CLUSTER_REDIS_URL.
cluster-test: install
	@command -v haproxy >/dev/null || test -x /usr/sbin/haproxy || \
		(DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null)
	timeout --kill-after=30 $(CLUSTER_TEST_TIMEOUT) $(PY) -m pytest -p no:cacheprovider tests/cluster $(PYTEST_ARGS)

bench: install
	$(PY) -m bench

clean:
	@# an embedded Redis started on demand (tests, manage.py) outlives them; stop it before its directory goes
	-@test -f var/redis.pid && kill $$(cat var/redis.pid) 2>/dev/null; true
	rm -rf $(VENV) var .pytest_cache
