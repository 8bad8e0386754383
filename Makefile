# The two commands: `make run` (try idp on this machine) and `make test` (every test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG := instance/idp.toml
export IDP_CONFIG ?= $(abspath $(CONFIG))

.PHONY: run test install install-test translations chromium

$(BIN)/idp: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

install: $(BIN)/idp

$(CONFIG): | $(BIN)/idp
	$(BIN)/idp config init --path $(CONFIG)

run: install $(CONFIG)
	$(BIN)/idp db upgrade
	$(BIN)/idp demo seed
	@echo
	@echo "idp is starting on http://127.0.0.1:5000"
	@echo "  sign in at http://127.0.0.1:5000/login as demo / Demo-Subscriber-2026"
	@echo "  admin console: http://127.0.0.1:5000/admin as admin / Demo-Operator-Admin-2026"
	@echo "  SMS codes (development mode): http://127.0.0.1:5000/dev/outbox"
	@echo "  discovery: http://127.0.0.1:5000/.well-known/openid-configuration"
	@echo "  demo client secrets: instance/demo-clients.json"
	@echo
	$(BIN)/idp serve

install-test: install
	$(BIN)/pip install --quiet -e ".[test]"

# Runs on SQLite; also on PostgreSQL + Redis when IDP_TEST_DATABASE_URL / IDP_TEST_REDIS_URL are set.
# Page tests need Debian's Chromium (browsers cannot be downloaded): installed here if missing.
test: install-test chromium
	env -u IDP_CONFIG $(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

chromium:
	@command -v chromium >/dev/null || { echo "installing Debian's chromium for the page tests"; \
	  (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null || sudo apt-get install -y -qq chromium; }

translations: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -o idp/translations/messages.pot .
	$(BIN)/pybabel update -i idp/translations/messages.pot -d idp/translations --no-fuzzy-matching
	$(BIN)/pybabel compile -d idp/translations

# idp and the operator's three example sites (examples/): selfcare :5001, wallet :5002, paygate :5003.
# Ctrl-C stops all four.
.PHONY: demo
demo: install $(CONFIG)
	$(BIN)/idp db upgrade
	$(BIN)/idp demo seed
	$(BIN)/python -m examples.run_demo
