"""Merge the scenario results into bench/results/latest.json (field names stable across commits) and
write the human summary bench/results/latest.md. A scenario that did not produce a result is present
with its fields null and a `reason`."""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path

from .common import ROOT

RESULTS = ROOT / "bench" / "results"

# scenario → (fields that must always be present, goal checks: (label, field, op, target))
SCENARIOS = {
    # ratio_to_bare_insert counts orders matched AND settled (#19), for the inline path and the engine alike
    "order_place": (["orders_per_s", "p50_ms", "p99_ms", "bare_per_s", "ratio_to_bare_insert", "matching",
                     "accepted_per_s", "matched_per_s", "matched_settled_per_s", "backlog_at_end", "accept_p99_ms",
                     "accept_to_filled_p99_ms"],
                    [("orders matched and settled/s ÷ bare insert/s ≥ 0.5", "ratio_to_bare_insert", ">=", 0.5),
                     ("accept→filled p99 < 100 ms", "accept_to_filled_p99_ms", "<", 100)]),
    "settlement": (["settled_per_s", "bare_task_per_s", "ratio_to_bare_task", "match_to_settled_p50_ms",
                    "match_to_settled_p99_ms"],
                   [("settled/s ÷ bare task/s ≥ 0.5", "ratio_to_bare_task", ">=", 0.5),
                    ("match-to-settled p99 < 1000 ms", "match_to_settled_p99_ms", "<", 1000)]),
    "ledger": (["transactions_per_s", "pgbench_tps", "ratio_to_pgbench", "hordak_per_s", "ratio_to_hordak"],
               [("post() ÷ hordak transfer_to ≥ 2", "ratio_to_hordak", ">=", 2)]),
    # 1,000 bids in the last 60 s of an English auction with anti-sniping, through HTTP (#19)
    "auction_burst": (["bids", "organizations", "http_2xx", "http_4xx", "http_4xx_by_code", "http_5xx", "timeouts",
                       "unanswered", "p50_ms", "p99_ms", "bare_p99_ms", "extensions", "end_at_final",
                       "result_matches_reference"],
                      [("every bid answered (no 5xx, no time-out)", "unanswered", "==", 0),
                       ("auction result = the reference winner from the bids' log", "result_matches_reference", "==",
                        True)]),
    "book_depth": (["p50_1k_ms", "p50_100k_ms", "ratio_100k_to_1k"],
                   [("p50 at 100k ÷ p50 at 1k ≤ 1.25", "ratio_100k_to_1k", "<=", 1.25)]),
    "verify": (["transactions", "transactions_per_s", "peak_rss_mb"],
               [("verify_ledger peak RSS < 300 MB", "peak_rss_mb", "<", 300)]),
    "report": (["trades", "seconds"], [("flow matrix over 1M trades < 1 s", "seconds", "<", 1)]),
    # the 1M-trade history of report, console and surveillance, built through the bulk path (trading.bulk)
    "history": (["history_trades", "history_loaded", "history_load_seconds", "history_trades_per_s"], []),
    # the web console's main pages over the 1M-trade history: every page read from roll-ups or index ranges
    "console": (["p50_ms", "p99_ms", "pages"], [("console page p99 over 1M trades < 1000 ms", "p99_ms", "<", 1000)]),
    "surveillance": (["trades", "new_trades", "seconds", "idle_seconds"],
                     [("surveillance over 5 s of new trades on 1M < 1 s", "seconds", "<", 1)]),
}


def _sh(cmd: str) -> str:
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, cwd=ROOT, timeout=10).stdout.strip()
    except Exception:  # noqa: BLE001
        return ""


def machine() -> dict:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    mem_kb = next(int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines()
                  if ln.startswith("MemTotal"))
    return {"nproc": os.cpu_count(), "memory_mb": mem_kb // 1024, "cpu_model": cpu, "kernel": platform.release(),
            "python": platform.python_version(), "postgresql": (_sh("psql --version").split() + ["", "", ""])[2],
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()]}


def _check(value, op, target):
    if value is None:
        return None
    return {"<": value < target, "<=": value <= target, ">=": value >= target, "==": value == target}[op]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--elapsed", type=int, default=0)
    ap.add_argument("--scenarios", default=" ".join(SCENARIOS))
    args = ap.parse_args()
    results = Path(args.results)
    reasons = [ln for ln in (results / "reasons.txt").read_text().splitlines() if ln.strip()] \
        if (results / "reasons.txt").exists() else []
    wanted = args.scenarios.split()
    out = {
        "schema": 1,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "git": {"commit": _sh("git rev-parse --short HEAD"), "dirty": bool(_sh("git status --porcelain -uno"))},
        "machine": machine(),
        "elapsed_s": args.elapsed,
        "stack": {"gunicorn_workers": 2, "gunicorn_worker_class": "sync", "debug": False, "celery_concurrency": 2,
                  "postgresql_fsync": True, "celery_beat": False},
    }
    goals = []
    try:  # a subset run (BENCH_ONLY) keeps the other scenarios' last figures, marked with their run's date
        previous = json.loads((RESULTS / "latest.json").read_text())
    except (OSError, ValueError):
        previous = {}
    for name, (fields, checks) in SCENARIOS.items():
        path = results / f"{name}.json"
        data, carried = {}, False
        if path.exists():
            try:
                data = json.loads(path.read_text())
            except ValueError:
                data = {}
        elif name not in wanted and isinstance(previous.get(name), dict) and (
                not previous[name].get("reason") or previous[name].get("measured_at")):
            data, carried = dict(previous[name]), True
            data.setdefault("measured_at", previous.get("date"))
            if str(data.get("reason") or "").startswith("not run"):
                data.pop("reason")  # figures carried from an earlier run are figures, not a refusal
        for f in fields:
            data.setdefault(f, None)
        if (not path.exists() and not carried) or not data:
            why = [r for r in reasons if r.startswith(f"{name}:")]
            data["reason"] = why[0] if why else ("not run (BENCH_ONLY)" if name not in wanted else "no result")
        for k in ("reason", "hordak_reason"):
            if isinstance(data.get(k), str):
                data[k] = " ".join(data[k].split())[:500]
        if name == "ledger" and data.get("ratio_to_hordak") is None and not data.get("hordak_reason"):
            data["hordak_reason"] = next((r for r in reasons if r.startswith("hordak:")), data.get("reason"))
        for label, field, op, target in checks:
            met = _check(data.get(field), op, target)
            goals.append({"scenario": name, "goal": label, "value": data.get(field), "met": met})
        out[name] = data
    out["goals"] = goals
    out["notes"] = reasons
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    (RESULTS / "latest.md").write_text(summary(out))


def _fmt(v, unit=""):
    if v is None:
        return "—"
    if isinstance(v, float):
        v = f"{v:,.3f}".rstrip("0").rstrip(".") if abs(v) < 10 else f"{v:,.0f}"
    return f"{v}{unit}"


def summary(r: dict) -> str:
    m = r["machine"]
    op, st, lg, bd, vf, rp = (r[k] for k in ("order_place", "settlement", "ledger", "book_depth", "verify", "report"))
    sv, cs, hs = r.get("surveillance", {}), r.get("console", {}), r.get("history", {})
    ab = r.get("auction_burst", {})
    lines = [
        f"# Benchmarks — {r['date']}",
        "",
        f"Machine: {m['nproc']} cores ({m['cpu_model']}), {m['memory_mb']:,} MB; PostgreSQL {m['postgresql']}, "
        f"Python {m['python']}. Commit {r['git']['commit']}{' (+ uncommitted changes)' if r['git']['dirty'] else ''}. "
        f"Run took {r['elapsed_s']} s. Stack: gunicorn 2 sync workers (DEBUG off), 1 Celery worker "
        "(concurrency 2), PostgreSQL fsync on, all on this machine beside the load generators.",
        "",
        "| scenario | measured | ceiling / peer | ratio | goal |",
        "| --- | --- | --- | --- | --- |",
        f"| order_place (HTTP, 16 conns) | {_fmt(op.get('orders_per_s'))} orders/s, p50 {_fmt(op.get('p50_ms'))} ms, "
        f"p99 {_fmt(op.get('p99_ms'))} ms | bare DRF insert {_fmt(op.get('bare_per_s'))}/s | "
        f"{_fmt(op.get('ratio_to_bare_insert'))} | ≥ 0.5 |",
        f"| order_place, {op.get('matching') or '—'} path | accepted {_fmt(op.get('accepted_per_s'))}/s, matched "
        f"{_fmt(op.get('matched_per_s'))}/s, matched + settled {_fmt(op.get('matched_settled_per_s'))}/s, backlog at "
        f"end {_fmt(op.get('backlog_at_end'))}; accept p99 {_fmt(op.get('accept_p99_ms'))} ms, accept→filled p99 "
        f"{_fmt(op.get('accept_to_filled_p99_ms'))} ms | | | accept→filled p99 < 100 ms |",
        f"| auction_burst ({_fmt(ab.get('bids'))} bids, {_fmt(ab.get('organizations'))} orgs, last 60 s) | "
        f"2xx {_fmt(ab.get('http_2xx'))}, 4xx {_fmt(ab.get('http_4xx'))}, 5xx {_fmt(ab.get('http_5xx'))}, "
        f"time-outs {_fmt(ab.get('timeouts'))}; p50 {_fmt(ab.get('p50_ms'))} ms, p99 {_fmt(ab.get('p99_ms'))} ms; "
        f"{_fmt(ab.get('extensions'))} extension(s), end {ab.get('end_at_final') or '—'}; = reference: "
        f"{_fmt(ab.get('result_matches_reference'))} | bare insert, same schedule: p99 {_fmt(ab.get('bare_p99_ms'))} ms"
        f" | | all answered; = reference |",
        f"| settlement (worker) | {_fmt(st.get('settled_per_s'))} trades/s; match→settled p50 "
        f"{_fmt(st.get('match_to_settled_p50_ms'))} ms, p99 {_fmt(st.get('match_to_settled_p99_ms'))} ms at "
        f"{_fmt(st.get('latency_offered_per_s'))} trades/s | bare task {_fmt(st.get('bare_task_per_s'))}/s | "
        f"{_fmt(st.get('ratio_to_bare_task'))} | ≥ 0.5; p99 < 1 s |",
        f"| ledger post() ({_fmt(lg.get('clients'))} clients) | {_fmt(lg.get('transactions_per_s'))} txn/s | "
        f"pgbench -N {_fmt(lg.get('pgbench_tps'))} tps; hordak transfer_to {_fmt(lg.get('hordak_per_s'))}/s | "
        f"{_fmt(lg.get('ratio_to_pgbench'))} / {_fmt(lg.get('ratio_to_hordak'))} | vs hordak ≥ 2 |",
        f"| book_depth | p50 {_fmt(bd.get('p50_100k_ms'))} ms at {_fmt(bd.get('book_large'))} resting | "
        f"p50 {_fmt(bd.get('p50_1k_ms'))} ms at {_fmt(bd.get('book_small'))} | "
        f"{_fmt(bd.get('ratio_100k_to_1k'))} | ≤ 1.25 |",
        f"| verify_ledger | {_fmt(vf.get('transactions'))} txns in {_fmt(vf.get('seconds'))} s = "
        f"{_fmt(vf.get('transactions_per_s'))} txn/s, peak RSS {_fmt(vf.get('peak_rss_mb'))} MB | | | RSS < 300 MB |",
        f"| report (flow matrix) | {_fmt(rp.get('seconds'))} s over {_fmt(rp.get('trades'))} trades | "
        f"direct GROUP BY {_fmt(rp.get('direct_group_by_seconds'))} s | | < 1 s |",
        f"| surveillance (incremental) | {_fmt(sv.get('seconds'))} s over {_fmt(sv.get('new_trades'))} new of "
        f"{_fmt(sv.get('trades'))} trades | idle run {_fmt(sv.get('idle_seconds'))} s | | < 1 s |",
        f"| console (pages) | p50 {_fmt(cs.get('p50_ms'))} ms, p99 {_fmt(cs.get('p99_ms'))} ms over "
        f"{_fmt(hs.get('history_trades'))} trades | | | p99 < 1 s |",
        f"| history (bulk path) | {_fmt(hs.get('history_loaded'))} trades in {_fmt(hs.get('history_load_seconds'))} s "
        f"= {_fmt(hs.get('history_trades_per_s'))} trades/s | | | |",
        "",
        "Goals: " + "; ".join(f"{g['goal']}: {'met' if g['met'] else ('MISSED' if g['met'] is False else 'n/a')}"
                              for g in r["goals"]),
    ]
    reasons = [f"- {k}: {r[k]['reason']}" for k in ("order_place", "auction_burst", "settlement", "ledger",
                                                   "book_depth", "verify", "report", "surveillance", "console",
                                                   "history")
               if r.get(k, {}).get("reason")]
    if lg.get("hordak_reason"):
        reasons.append(f"- ledger/hordak: {lg['hordak_reason']}")
    if reasons:
        lines += ["", "Not measured:", *reasons]
    lines += ["", "Absolute numbers on a shared 2-core machine are noisy; compare ratios (each measured beside "
              "its ceiling in the same run). Details and method: bench/README.md.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
