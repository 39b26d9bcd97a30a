#!/usr/bin/env bash
# Installs what amends needs on a fresh Debian 12 machine, then builds and
# installs the Python package. Safe to run again: it installs only what is
# missing and rebuilds incrementally.
set -euo pipefail
cd "$(dirname "$0")/.."

# postgresql-15 provides the server programs (initdb, pg_ctl, postgres) that
# amends.cluster runs in a data directory of its own. Debian's package may also
# create and start its own cluster (main, port 5432, /var/run/postgresql); it is
# left alone: amends never connects to it, and the embedded default listens
# only on a socket in a directory of its own, so the two cannot collide.
DEBIAN_PACKAGES=(g++ libboost-dev libhowardhinnant-date-dev libgtest-dev googletest hledger ledger
                 postgresql-15 postgresql-client-15 libpq-dev libpqxx-dev libtomlplusplus-dev nlohmann-json3-dev
                 libicu-dev libssl-dev)
missing=()
for package in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "ci/setup.sh: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
"$PYTHON" -m pip install -q --disable-pip-version-check --root-user-action=ignore \
  "scikit-build-core>=0.10" "pybind11>=2.12" "cmake>=3.20" ninja \
  "pandas>=2.0" "numpy>=1.24" "pytest>=7" "hypothesis>=6" "mypy>=1.8" "psycopg[binary]>=3.1"

# The package itself: builds the C++ core and amends._core.
"$PYTHON" -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-build-isolation .
