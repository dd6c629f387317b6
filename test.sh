#!/usr/bin/env bash
# Quick start, command 2: install what is missing, build with AddressSanitizer
# and UndefinedBehaviorSanitizer (warnings are errors), run every test.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh test
cmake --preset dev >/dev/null
cmake --build --preset dev
ctest --preset dev --timeout 600 "$@"
