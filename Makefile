# The two commands: `make run` serves the API, `make test` checks everything.
# Both create the virtualenv and install what they need on first use. `make` alone lists the targets.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
WEB_CONCURRENCY ?= 4

export PYTHONDONTWRITEBYTECODE := 1
# Transparent huge pages for large mallocs: argon2's 19 MiB buffer, handed back to the kernel after
# each hash (see gunicorn_conf.py), costs no extra page faults.
export GLIBC_TUNABLES ?= glibc.malloc.hugetlb=1

.PHONY: help run test quick install migrate manager demote purge relay webhooks events lint typecheck contracts pytest bench bench-webhooks clean
.DEFAULT_GOAL := help

help: ## list the targets and what each does (this)
	@awk 'BEGIN { FS = ":[^#]*## " } /^[a-z][a-z-]*:.*## / { printf "  %-14s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml src/shop/entrypoints/docs/vendor.json
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python tools/vendor_docs.py
	@touch $(STAMP)

install: $(STAMP) ## create the virtualenv and install the project with its dev tools

run: $(STAMP) migrate ## serve the API with gunicorn on http://HOST:PORT (127.0.0.1:8000)
	HOST=$(HOST) PORT=$(PORT) WEB_CONCURRENCY=$(WEB_CONCURRENCY) \
		$(BIN)/gunicorn --config python:shop.entrypoints.gunicorn_conf 'shop.entrypoints.app:create_app()'

migrate: $(STAMP) ## apply the database migrations (Alembic) to DATABASE_URL
	$(BIN)/shop migrate

# The password travels in the environment of `shop manager` alone, never in a command line make
# would echo; without PASSWORD (or SHOP_MANAGER_PASSWORD) a terminal is asked for it.
manager: export SHOP_MANAGER_PASSWORD := $(or $(value PASSWORD),$(value SHOP_MANAGER_PASSWORD))
manager: $(STAMP) ## create a manager or promote a user: make manager USERNAME=alice [PASSWORD=...]
	@test -n "$(USERNAME)" || { echo "usage: make manager USERNAME=name [PASSWORD=secret]"; exit 2; }
	$(BIN)/shop migrate
	$(BIN)/shop manager "$(USERNAME)"

demote: $(STAMP) ## make a manager a customer again (tokens, console sessions end): make demote USERNAME=alice [FORCE=1]
	@test -n "$(USERNAME)" || { echo "usage: make demote USERNAME=name [FORCE=1 to demote the last manager]"; exit 2; }
	$(BIN)/shop demote $(if $(filter 1,$(FORCE)),--force) "$(USERNAME)"

purge: $(STAMP) ## delete expired tokens and idempotency keys, events sent over OUTBOX_RETENTION_HOURS ago, old webhook deliveries
	$(BIN)/shop purge

# A broker on this machine unless BROKER_URL says otherwise (make run itself never needs one).
LOCAL_BROKER := amqp://guest:guest@127.0.0.1:5672/%2F

relay: $(STAMP) migrate ## publish the outbox's events to RabbitMQ (BROKER_URL) until Ctrl-C; RELAY_PORT per relay
	BROKER_URL="$${BROKER_URL:-$(LOCAL_BROKER)}" $(BIN)/shop relay

webhooks: $(STAMP) migrate ## deliver webhooks to the endpoints managers registered, until Ctrl-C; run several if you like
	$(BIN)/shop webhooks

events: $(STAMP) ## print the events as they are published: make events [PATTERN='order.*']
	BROKER_URL="$${BROKER_URL:-$(LOCAL_BROKER)}" $(BIN)/shop events tail --pattern '$(or $(PATTERN),#)'

bench: $(STAMP) ## load-test the API with wrk, CPU per request included: make bench [BASELINE=<git ref>] [BENCH_REPLICA=1] [BENCH_SERVER=granian] [BENCH_ARGS='--duration 3s'] [BENCH_WEBHOOK_EVENTS=2000]
ifeq ($(BENCH_REPLICA),1)
	$(BIN)/python bench/replica.py $(BENCH_ARGS)
else
	BENCH_DATABASE_URL="$(BENCH_DATABASE_URL)" BENCH_SERVER="$(BENCH_SERVER)" \
		$(BIN)/python bench/run.py $(if $(BASELINE),--baseline '$(BASELINE)') $(BENCH_ARGS)
	BENCH_DATABASE_URL="$(BENCH_DATABASE_URL)" $(BIN)/python bench/webhooks.py --events $(or $(BENCH_WEBHOOK_EVENTS),2000)
endif

bench-webhooks: $(STAMP) ## webhook deliveries per second to a local receiver: make bench-webhooks [BENCH_ARGS='--events 5000']
	BENCH_DATABASE_URL="$(BENCH_DATABASE_URL)" $(BIN)/python bench/webhooks.py $(BENCH_ARGS)

lint: $(STAMP) ## ruff: lint and format check
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools

typecheck: $(STAMP) ## mypy --strict over src, tests and tools
	$(BIN)/mypy

contracts: $(STAMP) ## import-linter: the layers import only inwards
	$(BIN)/lint-imports

pytest: $(STAMP) ## every test (PostgreSQL ones with TEST_DATABASE_URL)
	$(BIN)/pytest -q

test: lint typecheck contracts pytest ## ruff, mypy, import contracts and every test

quick: $(STAMP) ## the fast tests alone: no real gunicorn, relay or browser (system, browser markers)
	$(BIN)/pytest -q -m "not system and not browser"

clean: ## remove the virtualenv and var/
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
