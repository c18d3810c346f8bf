#!/usr/bin/env bash
# Local secrets for `make run`, `make test`, `make manage` and `make bench`: unless SECRET_KEY and
# LEDGER_SIGNING_KEY(_FILE) are given, a random SECRET_KEY and an Ed25519 ledger signing key are generated
# once and kept under .state/secrets/ (mode 600), so that no published string is ever a key. Sourced after
# services.sh (it needs $STATE and the virtualenv's python).
ensure_local_secrets() {
  local dir="$STATE/secrets"
  (umask 077; mkdir -p "$dir")
  if [ -z "${SECRET_KEY:-}" ]; then
    [ -s "$dir/secret_key" ] \
      || (umask 077; python -c 'import secrets; print(secrets.token_urlsafe(50))' > "$dir/secret_key")
    SECRET_KEY="$(cat "$dir/secret_key")"
    export SECRET_KEY
  fi
  if [ -z "${LEDGER_SIGNING_KEY:-}" ] && [ -z "${LEDGER_SIGNING_KEY_FILE:-}" ]; then
    [ -s "$dir/ledger-signing-key.pem" ] \
      || (umask 077; python -m ledger.keys generate > "$dir/ledger-signing-key.pem.tmp" \
          && mv "$dir/ledger-signing-key.pem.tmp" "$dir/ledger-signing-key.pem")
    export LEDGER_SIGNING_KEY_FILE="$dir/ledger-signing-key.pem"
  fi
}
