#!/usr/bin/env bash
# Regenerate the hash locks from the pinned lists: requirements.txt → requirements.lock (the image
# installs it with --require-hashes), requirements-dev.txt → requirements-dev.lock. Run it after changing
# either list (tests/platform/test_dependencies.py fails while a lock disagrees with its list).
# pip-tools lives in a throwaway venv under .state/, not in the project's.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.state/lock-venv"
[ -x "$VENV/bin/pip-compile" ] || { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q pip-tools==7.7.0; }
FLAGS=(--quiet --generate-hashes --strip-extras --no-header --no-emit-index-url --no-emit-find-links --allow-unsafe)
cd "$ROOT"
"$VENV/bin/pip-compile" "${FLAGS[@]}" --output-file requirements.lock requirements.txt
"$VENV/bin/pip-compile" "${FLAGS[@]}" --output-file requirements-dev.lock requirements-dev.txt
