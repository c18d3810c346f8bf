"""docker-compose.yml (not used by CI): the five services and the settings variables are there."""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
VARIABLES = {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS"}


def load():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_services():
    services = load()["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)


def test_app_services_share_the_settings_variables():
    services = load()["services"]
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        env = dict(e.split("=", 1) for e in env) if isinstance(env, list) else env
        assert VARIABLES <= set(env), name
        assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:" in env["DATABASE_URL"]
        assert env["REDIS_URL"].startswith("redis://redis:")
        assert services[name].get("build") or services[name].get("image")
        assert {"postgres", "redis"} <= set(services[name]["depends_on"]) or "web" in services[name]["depends_on"]


def test_commands():
    services = load()["services"]
    joined = {name: " ".join(s["command"]) if isinstance(s["command"], list) else s["command"]
              for name, s in services.items() if "command" in s}
    assert "gunicorn config.wsgi" in joined["web"] and "migrate" in joined["web"] and "seed_demo" in joined["web"]
    assert "celery -A config worker" in joined["worker"]
    assert "celery" in joined["beat"] and "beat" in joined["beat"]


def test_dockerfile_builds_the_python_image():
    text = (ROOT / "Dockerfile").read_text()
    assert text.startswith("#") and "FROM python:3.1" in text
    assert "requirements.txt" in text and "gunicorn" in text
    assert ".venv" in (ROOT / ".dockerignore").read_text()
