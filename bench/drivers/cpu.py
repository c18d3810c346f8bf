"""Where the CPU goes during a run: the user+system time of every process of the machine, grouped by
what it is (gunicorn, the matching engine, the Celery worker, PostgreSQL, Redis, wrk, the rest), read
from /proc before and after. `cpu_per_op(before, after, n)` gives milliseconds per operation by group.
Both sides of a ratio are read the same way in the same run, so a figure such as "an order costs 2.3×
a bare insert in PostgreSQL" does not depend on how busy the machine was (wall-clock rates do)."""
from __future__ import annotations

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _group(cmdline: str, comm: str) -> str:
    if comm.startswith("postgres") or "postgres:" in cmdline:
        return "postgres"
    if "gunicorn" in cmdline:
        return "gunicorn"
    if "matching_engine" in cmdline:
        return "engine"
    if "celery" in cmdline:
        return "celery"
    if comm.startswith("redis"):
        return "redis"
    if comm == "wrk":
        return "wrk"
    return "other"


def snapshot() -> dict[int, tuple[str, int]]:
    """pid → (group, CPU ticks so far) for every process still alive."""
    out: dict[int, tuple[str, int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            cmdline = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()
        # utime, stime, and the waited-for children's cutime, cstime (wrk's threads are in utime)
        ticks = int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
        out[int(d.name)] = (_group(cmdline, comm), ticks)
    return out


def cpu_per_op(before: dict, after: dict, n: int) -> dict[str, float]:
    """Milliseconds of CPU per operation by group between two snapshots (processes born in between count
    from zero; those that died in between are lost: none should during a run)."""
    if not n:
        return {}
    groups: dict[str, int] = {}
    for pid, (group, ticks) in after.items():
        start = before.get(pid, (group, 0))[1]
        groups[group] = groups.get(group, 0) + max(0, ticks - start)
    per = {g: round(1000 * t / TICK / n, 3) for g, t in sorted(groups.items()) if t}
    per["server_total"] = round(sum(v for g, v in per.items() if g not in ("wrk", "other")), 3)
    return per
