"""Runtime and development requirements are split, pinned, and locked with hashes: requirements.txt is the
runtime (nothing only tests or lint need), requirements-dev.txt adds the tools on top of it, and each
`.lock` (pip-compile --generate-hashes, `scripts/lock.sh`) pins exactly the same versions, with hashes."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEV_ONLY = {"pytest", "pytest-django", "pytest-xdist", "hypothesis", "schemathesis", "ruff", "import-linter"}


def pins(name: str) -> dict[str, str]:
    out = {}
    for line in (ROOT / name).read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s\\;]+)", line)
        if m:
            out[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return out


def test_runtime_and_dev_requirements_are_split_and_pinned():
    runtime, dev = pins("requirements.txt"), pins("requirements-dev.txt")
    assert {"django", "celery", "gunicorn", "psycopg2-binary"} <= set(runtime)
    assert not DEV_ONLY & set(runtime), DEV_ONLY & set(runtime)
    assert DEV_ONLY <= set(dev) and not set(runtime) & set(dev)
    assert (ROOT / "requirements-dev.txt").read_text().count("-r requirements.txt") == 1
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in (ROOT / name).read_text().splitlines():
            assert not line.strip() or line.startswith(("#", "-r ")) or "==" in line, (name, line)


def test_locks_pin_the_same_versions_with_hashes():
    runtime, dev = pins("requirements.txt"), pins("requirements-dev.txt")
    for listed, lock in ((runtime, "requirements.lock"), ({**runtime, **dev}, "requirements-dev.lock")):
        locked = pins(lock)
        assert locked == listed, f"{lock} disagrees with its list: run scripts/lock.sh"
        text = (ROOT / lock).read_text()
        assert text.count("--hash=sha256:") >= len(locked)
        assert "file://" not in text and "/opt/" not in text  # nothing of this machine's index
