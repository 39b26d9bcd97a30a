#!/usr/bin/env bash
# The main job on the embedded default. For now: the tour, which builds a
# small book in memory, posts a month of concessions and prints the trial
# balance and a customer-credit statement.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh >&2
exec amends tour "$@"
