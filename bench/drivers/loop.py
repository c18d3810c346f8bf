"""N client processes running one operation in a loop for a fixed time, started together (no Django
import here: used from the project venv and from the bench venv alike)."""
from __future__ import annotations

import multiprocessing as mp
import time


def _child(target, idx, seconds, ready, start, out):
    op = target(idx)  # set-up (Django, connections, accounts) before the clock starts
    ready.put(idx)
    start.wait()
    end = time.monotonic() + seconds
    n = errors = 0
    t0 = time.monotonic()
    while time.monotonic() < end:
        try:
            op(n)
            n += 1
        except Exception as exc:  # noqa: BLE001 - counted; the first few are shown
            errors += 1
            if errors <= 3:
                print(f"client {idx}: {exc!r}", flush=True)
    out.put((n, errors, time.monotonic() - t0))


def run_clients(target, *, clients: int, seconds: float) -> dict:
    """`target(idx)` returns `op(i)`, one operation. Returns completed operations per second over all."""
    ctx = mp.get_context("spawn")
    ready, start, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    ps = [ctx.Process(target=_child, args=(target, i, seconds, ready, start, out)) for i in range(clients)]
    for p in ps:
        p.start()
    for _ in ps:
        ready.get(timeout=300)
    start.set()
    results = [out.get(timeout=seconds + 300) for _ in ps]
    for p in ps:
        p.join()
    n = sum(r[0] for r in results)
    secs = max(r[2] for r in results)
    return {"operations": n, "errors": sum(r[1] for r in results), "seconds": round(secs, 2), "per_s": n / secs}
