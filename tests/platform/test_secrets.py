"""No known secrets in a deployment (issue 14 item 1): compose refuses to start without both keys and
seeds demo data only when asked; settings with DEBUG off refuse a published, weak or missing key and a
ledger key equal to SECRET_KEY; the scripts generate random local keys instead of published strings."""
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GOOD_SECRET = "k3Yq9-zV0pL_r8sT2wXb7mN4cF6hJ1dA5eG0uI9oQ3"
GOOD_LEDGER_KEY = "9f" * 32  # an Ed25519 seed as 64 hex digits


def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.mark.parametrize("service", ["web", "worker", "beat"])
@pytest.mark.parametrize("variable", ["SECRET_KEY", "LEDGER_SIGNING_KEY"])
def test_compose_refuses_to_start_without_the_keys(service, variable):
    env = compose()["services"][service]["environment"]
    value = env[variable]
    assert re.fullmatch(r"\$\{" + variable + r":\?[^}]+\}", value), value  # ${VAR:?message}: no default


def test_compose_seeds_demo_data_only_when_asked():
    web = compose()["services"]["web"]
    assert web["environment"]["SEED_DEMO"] == "${SEED_DEMO:-0}"
    command = " ".join(web["command"])
    assert re.search(r'if \[ "\$\$SEED_DEMO" = 1 \]; then python manage.py seed_demo; fi', command), command
    assert command.count("seed_demo") == 1


def test_no_published_key_in_the_scripts_and_images():
    known = ["local-dev-secret-not-for-production", "test-secret-key", "change-me-compose-secret-key",
             "bench-secret-not-for-production", "bench-ledger-key", "collectstatic-only"]
    for path in ["scripts/run.sh", "scripts/test.sh", "scripts/manage.sh", "bench/run.sh", "Dockerfile",
                 "docker-compose.yml"]:
        text = (ROOT / path).read_text()
        assert not [k for k in known if k in text], path


def load_settings(**env) -> subprocess.CompletedProcess:
    """Import the settings in a fresh interpreter with exactly these key variables."""
    clean = {k: v for k, v in os.environ.items()
             if k not in {"SECRET_KEY", "LEDGER_SIGNING_KEY", "LEDGER_SIGNING_KEY_FILE", "DEBUG"}}
    clean.update({k: v for k, v in env.items() if v is not None})
    return subprocess.run([sys.executable, "-c", "import config.settings as s; print('loaded', s.DEBUG)"],
                          cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60)


def test_settings_load_with_good_keys():
    result = load_settings(DEBUG="0", SECRET_KEY=GOOD_SECRET, LEDGER_SIGNING_KEY=GOOD_LEDGER_KEY)
    assert result.returncode == 0 and "loaded False" in result.stdout, result.stderr


@pytest.mark.parametrize("secret,ledger_key,why", [
    (None, GOOD_LEDGER_KEY, "SECRET_KEY must be set"),
    ("local-dev-secret-not-for-production", GOOD_LEDGER_KEY, "published or development"),
    ("test-secret-key", GOOD_LEDGER_KEY, "published or development"),
    ("change-me-compose-secret-key", GOOD_LEDGER_KEY, "published or development"),
    ("django-insecure-0123456789abcdefghijklmnopqrstuvwxyz", GOOD_LEDGER_KEY, "published or development"),
    ("short-but-random-9Xq", GOOD_LEDGER_KEY, "published or development"),
    ("a" * 64, GOOD_LEDGER_KEY, "published or development"),
    (GOOD_SECRET, None, "LEDGER_SIGNING_KEY (or LEDGER_SIGNING_KEY_FILE) must be set"),
    (GOOD_SECRET, GOOD_SECRET, "not SECRET_KEY"),
    (GOOD_SECRET, "bench-ledger-key", "not SECRET_KEY or a published one"),
    (GOOD_SECRET, "not-an-ed25519-key", "LEDGER_SIGNING_KEY: expected a PEM Ed25519 private key"),
])
def test_settings_refuse_insecure_keys_with_debug_off(secret, ledger_key, why):
    result = load_settings(DEBUG="0", SECRET_KEY=secret, LEDGER_SIGNING_KEY=ledger_key)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and why in result.stderr, result.stderr


def test_debug_on_tolerates_a_development_key():
    result = load_settings(DEBUG="1", SECRET_KEY="local-dev-secret-not-for-production")
    assert result.returncode == 0 and "loaded True" in result.stdout, result.stderr


def test_scripts_generate_and_keep_random_local_keys(tmp_path):
    """scripts/secrets.sh, as run.sh/test.sh/manage.sh use it: random keys under .state/secrets (mode 600),
    the same ones on the next run, and the settings accept them with DEBUG off."""
    script = (f'set -euo pipefail; STATE="{tmp_path}"; source "{ROOT}/scripts/secrets.sh"; '
              'unset SECRET_KEY LEDGER_SIGNING_KEY LEDGER_SIGNING_KEY_FILE; ensure_local_secrets; '
              'echo "$SECRET_KEY"; echo "$LEDGER_SIGNING_KEY_FILE"')
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    runs = [subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
            for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr
    secret, key_file = runs[0].stdout.split()
    assert runs[1].stdout.split() == [secret, key_file]  # persisted, not regenerated
    assert len(secret) >= 50 and Path(key_file).parent == tmp_path / "secrets"
    for path in (tmp_path / "secrets" / "secret_key", Path(key_file)):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "BEGIN PRIVATE KEY" in Path(key_file).read_text()
    result = load_settings(DEBUG="0", SECRET_KEY=secret, LEDGER_SIGNING_KEY_FILE=key_file)
    assert result.returncode == 0, result.stderr
    other = subprocess.run(["bash", "-c", script.replace(str(tmp_path), str(tmp_path / "elsewhere"))],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert other.stdout.split()[0] != secret  # random per checkout, not a constant


@pytest.mark.parametrize("script", ["scripts/run.sh", "scripts/test.sh", "scripts/manage.sh"])
def test_scripts_use_generated_secrets(script):
    text = (ROOT / script).read_text()
    assert 'source "$(dirname "$0")/secrets.sh"' in text and "ensure_local_secrets" in text


def test_make_run_is_production_like_unless_debug_is_asked_for():
    """Issue 14 item 2: DEBUG off by default under make run (DEBUG=1 make run asks for it)."""
    text = (ROOT / "scripts/run.sh").read_text()
    assert re.search(r'export DEBUG="\$\{DEBUG:-0\}"', text) and "DEBUG:-1" not in text
