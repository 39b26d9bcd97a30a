#!/usr/bin/env bash
# The main job on the embedded default: the tour, which runs the four
# concession processes (service credit, goodwill, refund, retention offer)
# under the sample policy in a book of amends' own PostgreSQL cluster
# (created and started on first use) and prints what happened.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh >&2
exec amends tour "$@"
