#!/usr/bin/env bash
# Quick start, command 1: install what is missing, build, run the default
# scenario (or the scenario and options given) and print where to connect.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh build
cmake --preset release >/dev/null
cmake --build --preset release --target mailsim
exec ./build/release/simulator/mailsim run "$@"
