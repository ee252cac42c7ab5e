# spine-cds: `make run` starts the app, `make test` runs every test. Both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install browser run demo-cases test test-long bench bench-app lint typecheck validate clean

# durable-rules compiles a C extension: it needs a C compiler and the Python headers.
$(STAMP): pyproject.toml
	@command -v cc >/dev/null 2>&1 || { echo "installing a C compiler (durable-rules builds from source)"; \
	  (apt-get update -qq && apt-get install -y -qq build-essential python3-dev) >/dev/null; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# The browser tests drive Debian's Chromium (Playwright's own browser download is not reachable).
browser:
	@command -v chromium >/dev/null 2>&1 || { echo "installing chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; }
	@{ command -v curl && command -v jq; } >/dev/null 2>&1 || { echo "installing curl and jq for the README's CDS Hooks session"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl jq) >/dev/null; }
	@test -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf || { echo "installing DejaVu fonts for the PDF letters"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core) >/dev/null; }

# The demo cases go into the embedded database only: with SPINE_CDS_DATABASE_URL set, nothing is seeded.
run: $(STAMP)
	$(BIN)/spine-cds ui $(if $(SPINE_CDS_DATABASE_URL),,--demo)

# Refresh the shipped demo cases (decision/demos/) from the vignettes they copy, golden ones first.
demo-cases:
	@for demo in decision/demos/*.yaml; do name=$$(basename $$demo); \
	  for source in ../shared/vignettes/$$name tests/vignettes/$$name; do \
	    if [ -f $$source ]; then cp $$source $$demo; break; fi; done; done

test: $(STAMP) browser
	$(BIN)/spine-cds kb validate
	$(BIN)/pytest -q

# The long safety runs (not in CI's budget): 12,500 generated cases for each of the 8 generated
# tests (100,000; SPINE_CDS_LONG_EXAMPLES changes it), 12,000 fuzzed API inputs and 2,000 CLI
# inputs, 8 threads x 10,000 evaluations.
test-long: $(STAMP)
	SPINE_CDS_HYPOTHESIS=long $(BIN)/pytest -q -p no:cacheprovider --hypothesis-show-statistics \
	  tests/engine/test_properties.py tests/engine/test_differential.py tests/cli/test_fuzz.py tests/engine/test_concurrency.py

bench: $(STAMP)
	$(BIN)/spine-cds bench --out bench-results.json

# Server time per interaction of the clinician page (the real app script rerun by AppTest, and the
# app's own calls): median and p90 each; the target is a median under 100 ms.
bench-app: $(STAMP)
	@mkdir -p test-artifacts
	$(BIN)/python -m ui.app_bench --rounds 10 --out test-artifacts/bench-app.json

lint: $(STAMP)
	$(BIN)/ruff check knowledge decision ui tests
	$(BIN)/ruff format --check knowledge decision ui tests
	$(BIN)/mypy

validate: $(STAMP)
	$(BIN)/spine-cds kb validate

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
