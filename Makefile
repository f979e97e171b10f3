# The two commands: `make run` serves the API, `make test` checks everything.
# Both create the virtualenv and install what they need on first use.

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

.PHONY: run test quick install migrate manager demote purge relay webhooks events lint typecheck contracts pytest bench bench-webhooks clean

$(STAMP): pyproject.toml src/shop/entrypoints/docs/vendor.json
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python tools/vendor_docs.py
	@touch $(STAMP)

install: $(STAMP) ## create the virtualenv and install the project with its dev tools

run: $(STAMP) migrate ## serve the API on http://$(HOST):$(PORT) with gunicorn
	HOST=$(HOST) PORT=$(PORT) WEB_CONCURRENCY=$(WEB_CONCURRENCY) \
		$(BIN)/gunicorn --config python:shop.entrypoints.gunicorn_conf 'shop.entrypoints.app:create_app()'

migrate: $(STAMP) ## apply the database migrations (Alembic) to DATABASE_URL
	$(BIN)/shop migrate

manager: $(STAMP) ## create a manager or promote a user: make manager USERNAME=alice PASSWORD=...
	@test -n "$(USERNAME)" || { echo "usage: make manager USERNAME=name [PASSWORD=secret]"; exit 2; }
	$(BIN)/shop migrate
	SHOP_MANAGER_PASSWORD="$(PASSWORD)" $(BIN)/shop manager "$(USERNAME)"

demote: $(STAMP) ## make a manager a customer again (their tokens and console sessions end): make demote USERNAME=alice
	@test -n "$(USERNAME)" || { echo "usage: make demote USERNAME=name"; exit 2; }
	$(BIN)/shop demote "$(USERNAME)"

purge: $(STAMP) ## delete expired tokens and idempotency keys, events sent over OUTBOX_RETENTION_HOURS ago, old webhook deliveries
	$(BIN)/shop purge

# A broker on this machine unless BROKER_URL says otherwise (make run itself never needs one).
LOCAL_BROKER := amqp://guest:guest@127.0.0.1:5672/%2F

relay: $(STAMP) migrate ## publish the outbox's events to RabbitMQ (BROKER_URL) until Ctrl-C
	BROKER_URL="$${BROKER_URL:-$(LOCAL_BROKER)}" $(BIN)/shop relay

webhooks: $(STAMP) migrate ## deliver webhooks to the endpoints managers registered, until Ctrl-C; run several if you like
	$(BIN)/shop webhooks

events: $(STAMP) ## print the events as they are published: make events [PATTERN='order.*']
	BROKER_URL="$${BROKER_URL:-$(LOCAL_BROKER)}" $(BIN)/shop events tail --pattern '$(or $(PATTERN),#)'

bench: $(STAMP) ## load-test the API with wrk, CPU per request included: make bench [BASELINE=<git ref>] [BENCH_SERVER=granian] [BENCH_ARGS='--duration 3s']
	BENCH_DATABASE_URL="$(BENCH_DATABASE_URL)" BENCH_SERVER="$(BENCH_SERVER)" \
		$(BIN)/python bench/run.py $(if $(BASELINE),--baseline '$(BASELINE)') $(BENCH_ARGS)

bench-webhooks: $(STAMP) ## webhook deliveries per second to a local receiver: make bench-webhooks [BENCH_ARGS='--events 5000']
	BENCH_DATABASE_URL="$(BENCH_DATABASE_URL)" $(BIN)/python bench/webhooks.py $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools

typecheck: $(STAMP)
	$(BIN)/mypy

contracts: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck contracts pytest ## ruff, mypy, import contracts and every test

quick: $(STAMP) ## the fast tests alone: no real gunicorn, relay or browser (system, browser markers)
	$(BIN)/pytest -q -m "not system and not browser"

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
