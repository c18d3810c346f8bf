"""Where the order path's time goes: py-spy (bench venv) samples both gunicorn workers during a short
order run; samples are grouped by the innermost two frames of the project's own code (site-packages
frames folded into them), DB waits included. Used by http_bench when BENCH_PROFILE=1."""
from __future__ import annotations

import collections
import re
import subprocess
from pathlib import Path

from .common import ROOT

PY_SPY = ROOT / ".bench-venv" / "bin" / "py-spy"
APP = re.compile(r"\((accounts|trading|ledger|marketplace|oversight|bench|config)/")


def record(pids: list[int], seconds: int, out_dir: Path) -> list[Path]:
    procs, files = [], []
    for pid in pids:
        f = out_dir / f"py-spy-{pid}.raw"
        procs.append(subprocess.Popen([str(PY_SPY), "record", "--pid", str(pid), "-d", str(seconds), "-r", "100",
                                       "-f", "raw", "-o", str(f), "--nonblocking"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        files.append(f)
    for p in procs:
        p.wait()
    return [f for f in files if f.exists()]


def summarize(files: list[Path], top: int = 30) -> str:
    total, db, by_caller, by_db_caller = 0, 0, collections.Counter(), collections.Counter()
    for f in files:
        for line in f.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            n = int(n)
            total += n
            frames = stack.split(";")
            app = [fr for fr in frames if APP.search(fr)]
            key = " > ".join(app[-2:]) if app else "(outside project code: server, framework)"
            by_caller[key] += n
            if any("CursorWrapper._execute " in fr for fr in frames):
                db += n
                by_db_caller[key] += n
    if not total:
        return "no samples\n"
    lines = [f"{total} samples; waiting in database calls: {db * 100 / total:.1f}%", "",
             "by project code (inclusive of what it calls):"]
    lines += [f"{v * 100 / total:5.1f}%  {k}" for k, v in by_caller.most_common(top)]
    lines += ["", "database calls, by project caller:"]
    lines += [f"{v * 100 / total:5.1f}%  {k}" for k, v in by_db_caller.most_common(top)]
    return "\n".join(lines) + "\n"


def gunicorn_workers(port: int) -> list[int]:
    out = subprocess.run(["pgrep", "-f", f"gunicorn config.wsgi:application --bind 127.0.0.1:{port}"],
                         capture_output=True, text=True).stdout.split()
    pids = [int(p) for p in out]
    children = [p for p in pids if Path(f"/proc/{p}/status").exists()
                and any(ln.startswith("PPid:") and int(ln.split()[1]) in pids
                        for ln in Path(f"/proc/{p}/status").read_text().splitlines())]
    return children
