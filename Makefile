# Shuyu 数域 — everything the project needs is installed by these targets, into .venv.
# The first Python >= 3.11 that actually runs (pyenv shims may exist for versions that are not selected).
PY ?= $(shell for p in python3 python3.13 python3.12 python3.11; do $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install demo test test-slow lint messages bench fuzz reliability-report clean

$(STAMP): pyproject.toml
	@test -n "$(PY)" || { echo "Shuyu needs Python >= 3.11 on the PATH (python3, python3.11, ...)"; exit 1; }
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/shuyu db upgrade
	$(BIN)/shuyu demo
	$(BIN)/shuyu serve --host $(HOST) --port $(PORT)

# The whole suite but the long statistical runs (marked `slow`: make test-slow, and CI, run those).
test: install
	$(BIN)/python -m pytest -m "not slow"

test-slow: install
	$(BIN)/python -m pytest -m slow

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: install
	$(BIN)/python -m bench.run

# The pages' translations (docs/translating.md): every `_("...")` of the code and templates, the labels and the
# errors' titles into web/locale/messages.pot, then merged into each language's .po (new texts come with an
# empty msgstr for the translator; the pages read the .po itself, so there is nothing to compile).
# tests/web/test_translations.py extracts with the same keywords (it reads them from here).
BABEL_KEYWORDS := -k translate:2 -k error_page:3
messages: install
	$(BIN)/pybabel extract -F babel.cfg $(BABEL_KEYWORDS) --project Shuyu --version 0.1.0 \
		--copyright-holder "Shuyu contributors" -o web/locale/messages.pot .
	$(BIN)/pybabel update -i web/locale/messages.pot -d web/locale -D messages

# A long schemathesis run: every operation, as every role, FUZZ_EXAMPLES generated inputs each.
FUZZ_EXAMPLES ?= 25
fuzz: install
	SHUYU_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q -p no:randomly tests/web/test_fuzz.py

# Runs the reliability tests, recording their figures, and rewrites docs/reliability.md from them.
RELIABILITY_TESTS := tests/market/test_upload_limits.py tests/web/test_authorization_matrix.py \
	tests/web/test_fuzz.py tests/web/test_backup.py tests/licensing/test_budget_concurrency.py tests/licensing/test_stripe_hardening.py \
	tests/market/test_review_concurrency.py
reliability-report: install
	mkdir -p var && rm -f var/reliability-figures*.json
	SHUYU_RELIABILITY_FIGURES=$(CURDIR)/var/reliability-figures.json $(BIN)/python -m pytest -q -p no:randomly \
		$(RELIABILITY_TESTS)
	test -z "$(RELIABILITY_PG_URL)" || SHUYU_DATABASE_URL=$(RELIABILITY_PG_URL) \
		SHUYU_RELIABILITY_FIGURES=$(CURDIR)/var/reliability-figures-pg.json $(BIN)/python -m pytest -q \
		-p no:randomly tests/licensing/test_budget_concurrency.py tests/web/test_backup.py \
		tests/market/test_review_concurrency.py tests/licensing/test_stripe_hardening.py
	$(BIN)/python -m bench.reliability_report var/reliability-figures*.json > docs/reliability.md

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
