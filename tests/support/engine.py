"""The matching engine (#19) as a separate process for system tests: `manage.py matching_engine` with the
Celery worker's environment (the test database), which a test may SIGKILL and start again."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class EngineProcess:
    def __init__(self, env: dict, *, engine_markets: list[int]):
        self.env = {**env, "ENGINE_MARKETS": ",".join(map(str, engine_markets)), "ENGINE_EAGER": "0"}
        self.log_path = tempfile.mktemp(prefix="matching-engine-", suffix=".log")
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "engine already running"
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "manage.py", "matching_engine", "--poll", "0.2"], cwd=ROOT,
                                     env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.starts += 1

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ensure_running(self) -> None:
        if not self.running:
            self.start()

    def kill(self) -> None:
        """SIGKILL: whatever batch it was writing is cut short (its transaction rolls back)."""
        if self.running:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.running:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(Path(self.log_path).read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""
