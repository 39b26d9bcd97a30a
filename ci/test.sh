#!/usr/bin/env bash
# Runs every test: the C++ suite (release build and an address+undefined
# sanitizer build, through ctest; the reconciliation engine's tests again
# under the thread sanitizer) and the Python suite (pytest; the tests
# that need PostgreSQL start private PostgreSQL 15 servers in temporary
# directories and stop them), after installing what they need.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh

JOBS="$(nproc)"
PYTHON="${PYTHON:-python3}"

echo "== C++ tests (release, warnings on)"
cmake -S . -B build/ci-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DAMENDS_BUILD_BENCH=ON >/dev/null
cmake --build build/ci-release -j "$JOBS"
ctest --test-dir build/ci-release --output-on-failure -j "$JOBS"

echo "== C++ tests (address + undefined sanitizers)"
cmake -S . -B build/ci-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DAMENDS_SANITIZE=ON -DAMENDS_BUILD_BENCH=OFF >/dev/null
cmake --build build/ci-asan -j "$JOBS"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir build/ci-asan --output-on-failure -j "$JOBS"

echo "== C++ tests (thread sanitizer): the reconciliation engine on 1 to 4 threads"
cmake -S . -B build/ci-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DAMENDS_BUILD_BENCH=OFF \
  -DCMAKE_CXX_FLAGS="-fsanitize=thread -O1" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" >/dev/null
cmake --build build/ci-tsan -j "$JOBS" --target amends_tests
TSAN_OPTIONS=halt_on_error=1 build/ci-tsan/amends_tests --gtest_filter='Reconcile*'

echo "== Python tests"
"$PYTHON" -m pytest tests/python -q
