#!/usr/bin/env bash
# The main job on the embedded default: the tour, which posts a month of
# concessions into a book in amends' own PostgreSQL cluster (created and
# started on first use) and prints the trial balance and a statement.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh >&2
exec amends tour "$@"
