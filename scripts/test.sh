#!/usr/bin/env bash
# Run the whole test suite (sets up .venv first). Extra arguments go to pytest, e.g. `-k protocol`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
