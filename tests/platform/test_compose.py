"""docker-compose.yml (not used by CI): the five services and the settings variables are there; the image
is built once and reused; images are pinned by tag; the Dockerfile installs only the locked runtime."""
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
    assert text.startswith("#") and "FROM python:3.11.7-slim" in text
    # the runtime only, as locked with hashes; neither the dev list nor its lock
    assert "pip install --require-hashes -r requirements.lock" in text and "gunicorn" in text
    assert "requirements-dev" not in text
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".venv", "tests", "bench", ".ci", "requirements-dev.txt", "requirements-dev.lock"} <= ignored


def test_the_image_is_built_once_and_images_are_pinned():
    services = load()["services"]
    assert [name for name, s in services.items() if "build" in s] == ["web"]
    assert services["worker"]["image"] == services["beat"]["image"] == services["web"]["image"]
    for name, s in services.items():
        image = s["image"]
        tag = image.rsplit(":", 1)[1] if ":" in image else ""
        assert tag and tag != "latest", (name, image)
        if name in ("postgres", "redis"):
            assert any(c.isdigit() for c in tag) and "." in tag, (name, image)  # a release, not a moving major
