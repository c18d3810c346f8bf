"""`order_place`: limit orders through HTTP with wrk (16 connections) against the bare one-insert DRF
endpoint of the same deployment. Prints one JSON object (the scenario's result) on stdout."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

from . import cpu
from .common import STATE, load_seed, log, percentile, rnd, setup_django

WRK_DIR = Path(__file__).resolve().parents[1] / "wrk"


def wrk(script: str, url: str, *, duration: int, connections: int, threads: int, env: dict) -> dict:
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--timeout", "10s", "--latency",
           "-s", str(WRK_DIR / script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **env}, timeout=duration + 60)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary: {out.stdout[-2000:]} {out.stderr[-2000:]}")
    r = json.loads(line[len("BENCH_JSON "):])
    secs = r["duration_us"] / 1e6
    r["per_s"] = r["ok"] / secs
    return r


def trade_latencies(since, until) -> dict:
    """Match-to-settled of the order-book trades matched in [since, until): trade row written → the
    settling transaction's audit event (written last, just before its commit)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("""SELECT count(*), count(*) FILTER (WHERE status = 'settled') FROM trading_trade
                        WHERE created_at >= %s AND created_at < %s""", [since, until])
        total, settled = cur.fetchone()
        cur.execute("""SELECT extract(epoch FROM a.occurred_at - t.created_at) * 1000
                         FROM trading_trade t JOIN accounts_auditevent a
                           ON a.object_type = 'trade' AND a.object_id = t.id::text AND a.action = 'trade.settle'
                        WHERE t.created_at >= %s AND t.created_at < %s""", [since, until])
        lat = [float(r[0]) for r in cur.fetchall()]
    return {"trades": total, "settled": settled, "p50_ms": rnd(percentile(lat, 50)), "p99_ms": rnd(percentile(lat, 99))}


def wait_settled(since, timeout: float = 60) -> None:
    from trading.models import Trade

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not Trade.objects.filter(created_at__gte=since, status="matched").exists():
            return
        time.sleep(0.5)
    log("warning: trades still unsettled after the order run")


def matching_figures(since, until, wrk_seconds: float, *, engine: bool, timeout: float = 120,
                     drained=None) -> dict:
    """The order path's figures for either matching path, measured the same way: orders accepted (the
    2xx answers' rows) and matched (taken by matching: inline at once, the engine in its batch), the
    backlog when wrk stopped (requests the engine had not taken; inline none) and the trades then still
    unsettled, the time until the engine had taken every accepted order and settlement every trade,
    accept→filled (the order row → the audit row written after its matching: inline `order.place`, in the
    placing transaction after the fills; engine `order.match`, the batch that took it — an order's own
    updated_at moves again at every later fill of a resting order), and the rate of orders matched AND
    settled over the whole time from the first acceptance to the last settlement (`matched_settled_per_s`)."""
    from django.db import connection

    def backlog() -> int:
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM trading_orderrequest")
            return cur.fetchone()[0]

    at_end = backlog()
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM trading_trade WHERE created_at >= %s AND status <> 'settled'", [since])
        unsettled_at_end = cur.fetchone()[0]
    t_end = time.monotonic()
    deadline = t_end + timeout
    while backlog() and time.monotonic() < deadline:
        time.sleep(0.2)
    drained_after = time.monotonic() - t_end
    left = backlog()
    wait_settled(since, timeout=max(1.0, deadline - time.monotonic()))
    if drained is not None:
        drained()  # every order matched and every trade settled: before this function's own heavy reads
    with connection.cursor() as cur:  # the last settlement of a trade matched from this run's orders
        cur.execute("""SELECT extract(epoch FROM max(a.occurred_at) - %s)
                         FROM trading_trade t JOIN accounts_auditevent a
                           ON a.object_type = 'trade' AND a.object_id = t.id::text AND a.action = 'trade.settle'
                        WHERE t.created_at >= %s""", [since, since])
        last_settled = cur.fetchone()[0]
        cur.execute("""SELECT count(*), count(*) FILTER (WHERE status <> 'accepted') FROM trading_order
                        WHERE created_at >= %s AND created_at < %s""", [since, until])
        accepted, matched = cur.fetchone()
        cur.execute("""SELECT extract(epoch FROM a.occurred_at - o.created_at) * 1000
                         FROM trading_order o JOIN accounts_auditevent a
                           ON a.object_type = 'order' AND a.object_id = o.id::text AND a.action = %s
                        WHERE o.created_at >= %s AND o.created_at < %s""",
                    ["order.match" if engine else "order.place", since, until])
        lat = [max(0.0, float(r[0])) for r in cur.fetchall()]
    span = max(wrk_seconds, wrk_seconds + drained_after, float(last_settled or 0))
    p50, p99 = rnd(percentile(lat, 50)), rnd(percentile(lat, 99))
    return {"accepted": accepted, "accepted_per_s": rnd(accepted / wrk_seconds), "matched": matched,
            "matched_per_s": rnd(matched / (wrk_seconds + drained_after)),
            "backlog_at_end": at_end, "unsettled_at_end": unsettled_at_end, "drained_after_s": rnd(drained_after, 2),
            "backlog_left": left, "matched_settled_per_s": rnd(matched / span), "span_s": rnd(span, 2),
            "accept_to_filled_p50_ms": p50, "accept_to_filled_p99_ms": p99,
            # the earlier name of the engine's figure, kept for comparisons with the runs before
            **({"accept_to_matched_p50_ms": p50, "accept_to_matched_p99_ms": p99} if engine else {})}


def statements_reset() -> bool:
    """With pg_stat_statements preloaded (`BENCH_PG_STATEMENTS=1`): create it if needed and reset it."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT setting LIKE '%%pg_stat_statements%%' FROM pg_settings "
                    "WHERE name = 'shared_preload_libraries'")
        row = cur.fetchone()
        if not (row and row[0]):
            return False
        cur.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        cur.execute("SELECT pg_stat_statements_reset()")
    return True


def statements_per_order(orders: int, top: int = 20) -> dict:
    """PostgreSQL's execution time per order by statement since the reset (all backends: gunicorn's,
    the engine's, the settlement worker's), the heaviest first: ms and calls per order."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("""SELECT sum(total_exec_time), sum(calls) FROM pg_stat_statements
                        WHERE query NOT LIKE '%%pg_stat_statements%%'""")
        total, calls = cur.fetchone()
        cur.execute("""SELECT total_exec_time, calls, regexp_replace(query, '\\s+', ' ', 'g')
                         FROM pg_stat_statements WHERE query NOT LIKE '%%pg_stat_statements%%'
                        ORDER BY total_exec_time DESC LIMIT %s""", [top])
        rows = cur.fetchall()
    return {"exec_ms_per_order": rnd(float(total or 0) / orders, 3),
            "calls_per_order": rnd(float(calls or 0) / orders, 2),
            "top": [{"ms_per_order": rnd(t / orders, 3), "calls_per_order": rnd(c / orders, 2), "query": q[:160]}
                    for t, c, q in rows]}


def profile_orders(args, env: dict, opts: dict) -> None:
    """A further order run with py-spy on both gunicorn workers → bench/results/order_place_profile.txt."""
    import threading
    from urllib.parse import urlparse

    from . import profile

    if not profile.PY_SPY.exists():
        log("profile: py-spy is not installed in .bench-venv")
        return
    pids = profile.gunicorn_workers(urlparse(args.base).port)
    t = threading.Thread(target=wrk, args=("order_place.lua", f"{args.base}{env['BENCH_ORDERS_PATH']}"),
                         kwargs=dict(duration=14, env={**env, "BENCH_RUN_ID": f"p{int(time.time())}"}, **opts))
    t.start()
    time.sleep(2)
    files = profile.record(pids, 10, STATE / "results")
    t.join()
    text = profile.summarize(files)
    (STATE / "results" / "order_place_profile.txt").write_text(text)
    out = Path(__file__).resolve().parents[1] / "results" / "order_place_profile.txt"
    out.write_text(text)
    log(f"profile of the order path: {out}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="http://127.0.0.1:8442")
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", choices=["bare", "orders"], default=None)
    args = ap.parse_args()
    setup_django()
    from django.urls import reverse
    from django.utils import timezone

    orders_path, bare_path = reverse("order-list"), reverse("bench-rows")  # wherever the routers put them
    seed = load_seed()
    data = STATE / "wrk-data.txt"
    data.write_text(",".join(map(str, seed["markets"])) + "\n" + "\n".join(seed["tokens"]) + "\n")
    env = {"BENCH_WRK_DATA": str(data), "BENCH_WRK_DIR": str(WRK_DIR), "BENCH_MID_PRICE": str(seed["mid_price"]),
           "BENCH_ORDERS_PATH": orders_path, "BENCH_BARE_PATH": bare_path}
    opts = dict(connections=args.connections, threads=args.threads)
    result: dict = {"connections": args.connections, "duration_s": args.duration, "wrk_threads": args.threads,
                    "markets": len(seed["markets"]), "organizations": len(seed["tokens"])}

    bare_runs = []

    def bare(seconds: int) -> None:
        before = cpu.snapshot()
        r = wrk("bare.lua", f"{args.base}{bare_path}", duration=seconds, env=env, **opts)
        r["cpu"] = (before, cpu.snapshot())
        log(f"bare insert: {r['per_s']:.0f}/s p50 {r['p50_us'] / 1000:.1f} ms")
        bare_runs.append(r)

    # bare, orders, bare: the ceiling is measured on both sides of the real run (drifting background load)
    half = max(2, args.duration // 2)
    if args.only in (None, "bare"):
        wrk("bare.lua", f"{args.base}{bare_path}", duration=args.warmup, env=env, **opts)
        bare(half)
    if args.only in (None, "orders"):
        wrk("order_place.lua", f"{args.base}{orders_path}", duration=args.warmup,
            env={**env, "BENCH_RUN_ID": f"w{int(time.time())}"}, **opts)
        statements = statements_reset()
        cpu_before = cpu.snapshot()
        since = timezone.now()
        orders = wrk("order_place.lua", f"{args.base}{orders_path}", duration=args.duration,
                     env={**env, "BENCH_RUN_ID": f"r{int(time.time())}"}, **opts)
        until = timezone.now()
        log(f"order_place: {orders['per_s']:.0f}/s p50 {orders['p50_us'] / 1000:.1f} ms, "
            f"{orders['http_4xx']} 4xx, {orders['http_5xx']} 5xx")
        if orders["ok"] == 0:
            raise SystemExit(f"no order was accepted (last 4xx status {orders['last_4xx']}, "
                             f"{orders['http_5xx']} 5xx): is {orders_path} still the order endpoint?")
        engine = os.environ.get("ORDER_MATCHING") == "engine"
        cpu_after = []
        figures = matching_figures(since, until, orders["duration_us"] / 1e6, engine=engine,
                                   drained=lambda: cpu_after.append(cpu.snapshot()))
        log(f"{'engine' if engine else 'inline'}: {figures}")
        if engine:
            result["engine"] = figures
        # the figures, for either path, each beside its goal (collect.py checks them)
        result.update(matching="engine" if engine else "inline",
                      **{k: figures[k] for k in ("accepted_per_s", "matched_per_s", "matched_settled_per_s",
                                                 "backlog_at_end", "unsettled_at_end", "accept_to_filled_p50_ms",
                                                 "accept_to_filled_p99_ms")},
                      accept_p50_ms=rnd(orders["p50_us"] / 1000, 2), accept_p99_ms=rnd(orders["p99_us"] / 1000, 2),
                      goal_ratio_to_bare_insert=0.5, goal_accept_to_filled_p99_ms=100)
        wait_settled(since)
        # CPU per order, from the first acceptance to the last settlement of this run's trades (the
        # engine's and the settlement worker's share included; this driver's figures queries not), by
        # process group
        result["cpu_ms_per_order"] = cpu.cpu_per_op(cpu_before, cpu_after[0], figures["accepted"])
        if statements:
            result["pg_statements_per_order"] = statements_per_order(figures["accepted"])
        lat = trade_latencies(since, until)
        result.update(orders_per_s=rnd(orders["per_s"]), p50_ms=rnd(orders["p50_us"] / 1000, 2),
                      p99_ms=rnd(orders["p99_us"] / 1000, 2), errors_4xx=orders["http_4xx"],
                      errors_5xx=orders["http_5xx"], socket_errors=orders["socket_errors"],
                      trades=lat["trades"], trades_per_s=rnd(lat["trades"] / (orders["duration_us"] / 1e6)),
                      trades_settled=lat["settled"], http_match_to_settled_p50_ms=lat["p50_ms"],
                      http_match_to_settled_p99_ms=lat["p99_ms"])
        mode = os.environ.get("BENCH_PROFILE", "auto")  # auto: when below the goal against the first bare run
        below = bare_runs and orders["per_s"] < 0.5 * bare_runs[0]["per_s"]
        if mode == "1" or (mode == "auto" and not engine and below):
            profile_orders(args, env, opts)
            result["profile"] = "bench/results/order_place_profile.txt"
    if args.only in (None, "bare"):
        bare(half)
        ok = sum(r["ok"] for r in bare_runs)
        secs = sum(r["duration_us"] for r in bare_runs) / 1e6
        weights = [r["ok"] for r in bare_runs]
        result.update(bare_per_s=rnd(ok / secs),
                      bare_p50_ms=rnd(sum(r["p50_us"] * w for r, w in zip(bare_runs, weights)) / ok / 1000, 2),
                      bare_p99_ms=rnd(max(r["p99_us"] for r in bare_runs) / 1000, 2),
                      bare_runs_per_s=[rnd(r["per_s"]) for r in bare_runs],
                      bare_errors=sum(r["http_4xx"] + r["http_5xx"] for r in bare_runs))
        per_run = [cpu.cpu_per_op(*r["cpu"], r["ok"]) for r in bare_runs]
        result["cpu_ms_per_bare_insert"] = {g: round(sum(p.get(g, 0) for p in per_run) / len(per_run), 3)
                                            for g in sorted({g for p in per_run for g in p})}
    if "orders_per_s" in result and result.get("bare_per_s"):
        # the figure, for both paths: orders matched AND settled, not only accepted (inline the two
        # differ only by the settlement of the last trades)
        result["accepted_ratio_to_bare_insert"] = round(result["accepted_per_s"] / result["bare_per_s"], 3)
        result["ratio_to_bare_insert"] = round(result["matched_settled_per_s"] / result["bare_per_s"], 3)
    if result.get("cpu_ms_per_order") and result.get("cpu_ms_per_bare_insert", {}).get("server_total"):
        # the same ratio by CPU rather than by wall-clock rate: bare insert's server CPU ÷ an order's (the
        # acceptance, matching and settlement); independent of how busy the machine was
        result["cpu_ratio_to_bare_insert"] = round(result["cpu_ms_per_bare_insert"]["server_total"]
                                                   / result["cpu_ms_per_order"]["server_total"], 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
