"""Benchmark: a point-in-time snapshot on DuckDB against pandas and against a single-scan floor.

Generates the sample at scale as Parquet (1,000,000 accounts and about 100,000,000
weekly usage rows by default; invoices, tickets and grades in proportion), then
runs, each in its own process so that peak memory is measured per run:

* ``snapshot``: ``icp.snapshot`` at one as_of on DuckDB, reading the Parquet files out of core;
* ``pandas``: a straightforward pandas implementation of the same features and outcomes;
* ``floor``: one DuckDB scan that sums the usage table.

Targets (2 cores): snapshot <= 30 s and <= 3 GB peak RSS, >= 4x faster than
pandas, <= 3x the floor. Results go to benchmarks/results/bench_snapshot.{json,md}.

    python benchmarks/bench_snapshot.py                    # full size (several minutes)
    python benchmarks/bench_snapshot.py --accounts 20000   # a quick run
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
TABLES = ("accounts", "contracts", "invoices", "tickets", "usage", "am_grades")
TARGETS = {"snapshot_seconds": 30.0, "snapshot_peak_rss_gb": 3.0, "speedup_vs_pandas": 4.0, "ratio_to_floor": 3.0}


# --------------------------------------------------------------------------- workers


def _dataset(folder: Path):
    import ibis

    from icp.dataset import Dataset

    con = ibis.duckdb.connect(threads=int(os.environ.get("BENCH_THREADS", "2")))
    tables = {t: con.read_parquet(str(folder / f"{t}.parquet"), table_name=t) for t in TABLES}
    return Dataset(form="multi", tables=tables, backend=con)


def worker_snapshot(folder: Path, as_of: dt.date) -> dict:
    from icp.snapshot import snapshot

    start = time.perf_counter()
    frame = snapshot(_dataset(folder), as_of=as_of)
    seconds = time.perf_counter() - start
    frame.to_parquet(folder.parent / f"{folder.name}-snapshot.parquet", index=False)
    return {"seconds": seconds, "rows": len(frame), "columns": frame.shape[1]}


def worker_floor(folder: Path, as_of: dt.date) -> dict:
    import duckdb

    con = duckdb.connect(config={"threads": int(os.environ.get("BENCH_THREADS", "2"))})
    start = time.perf_counter()
    total = con.sql(f"SELECT sum(events) FROM read_parquet('{folder / 'usage.parquet'}')").fetchall()[0][0]
    return {"seconds": time.perf_counter() - start, "sum_events": float(total)}


def worker_pandas(folder: Path, as_of: dt.date) -> dict:
    start = time.perf_counter()
    frame = pandas_snapshot(folder, as_of)
    seconds = time.perf_counter() - start
    frame.to_parquet(folder.parent / f"{folder.name}-pandas.parquet", index=False)
    return {"seconds": seconds, "rows": len(frame)}


def pandas_snapshot(folder: Path, as_of: dt.date, horizon: int = 365, grace: int = 30) -> pd.DataFrame:
    """The same features and outcomes, written the straightforward way in pandas."""
    read = lambda t, cols=None: pd.read_parquet(folder / f"{t}.parquet", columns=cols)  # noqa: E731
    T = pd.Timestamp(as_of)
    day = pd.Timedelta(days=1)
    c = read("contracts")
    c["start_date"], c["end_date"] = pd.to_datetime(c["start_date"]), pd.to_datetime(c["end_date"])
    k = c[c["start_date"] < T].copy()
    k["cov"] = k["end_date"].isna() | (k["end_date"] >= T)
    g = k.groupby("account_id")
    k["any_cov"], k["last_end"] = g["cov"].transform("max"), g["end_date"].transform("max")
    k["cur"] = np.where(k["any_cov"], k["cov"], k["end_date"] == k["last_end"])
    a12 = T - 365 * day
    k["arr_cur"] = k["arr_usd"].where(k["cur"], 0.0)
    k["arr_12"] = k["arr_usd"].where((k["start_date"] < a12) & (k["end_date"].isna() | (k["end_date"] >= a12)), 0.0)
    k["mnum"] = (k["arr_usd"] * k["gross_margin_pct"]).where(k["cur"], 0.0)
    base = k.groupby("account_id").agg(
        contract_count=("contract_id", "size"), first_start=("start_date", "min"), last_end=("end_date", "max"),
        n_cover=("cov", "sum"), arr_usd=("arr_cur", "sum"), arr_12m_ago=("arr_12", "sum"), mnum=("mnum", "sum"))
    base = base[(base["n_cover"] > 0) | (base["last_end"] >= T - grace * day)]
    plan = k[k["cur"]].sort_values(["account_id", "arr_usd", "contract_id"], ascending=[True, False, True])
    base["plan"] = plan.drop_duplicates("account_id").set_index("account_id")["plan"]
    base["gross_margin_pct"] = base["mnum"] / base["arr_usd"].where(base["arr_usd"] > 0)
    base["arr_growth_12m_pct"] = 100 * (base["arr_usd"] / base["arr_12m_ago"].where(base["arr_12m_ago"] > 0) - 1)
    base["tenure_months"] = (T - base["first_start"]).dt.days / 30.4375
    # outcomes: churn = a contract end in the window not followed by another contract within grace
    hend = T + horizon * day
    d = c[c["end_date"].notna() & (c["end_date"] >= T - grace * day) & (c["end_date"] <= hend)]
    pairs = d.merge(c, on="account_id", suffixes=("", "_o"))
    cont = pairs[(pairs["contract_id"] != pairs["contract_id_o"])
                 & (pairs["start_date_o"] <= pairs["end_date"] + grace * day)
                 & (pairs["end_date_o"].isna() | (pairs["end_date_o"] > pairs["end_date"]))]
    churn = d[~d["contract_id"].isin(cont["contract_id"])].groupby("account_id")["end_date"].min()
    base["renewal_due"] = base.index.isin(d["account_id"])
    base["churn_date"] = churn
    cc = c.join(churn.rename("churn_day"), on="account_id")
    stop = cc["end_date"].fillna(hend).clip(upper=hend)
    stop = stop.where(cc["churn_day"].isna() | (cc["churn_day"] > stop), cc["churn_day"])
    startd = cc["start_date"].clip(lower=T + day)
    days = ((stop - startd).dt.days + 1).clip(lower=0)
    cc["revenue"] = cc["arr_usd"] * days / 365
    base["revenue_horizon_usd"] = cc.groupby("account_id")["revenue"].sum()
    # invoices
    i = read("invoices")
    for col in ("issued_on", "due_on", "paid_on", "written_off_on"):
        i[col] = pd.to_datetime(i[col])
    i = i[i["issued_on"] < T]
    paid = i["paid_on"] < T
    due = (i["due_on"] < T) & (i["issued_on"] >= a12)
    i["late_days"] = np.where(paid, (i["paid_on"] - i["due_on"]).dt.days.clip(lower=0), (T - i["due_on"]).dt.days)
    i["late"] = due & (~paid | (i["paid_on"] > i["due_on"]))
    i["due"] = due
    i["overdue"] = i["amount_usd"].where((i["due_on"] < T) & ~paid & ~(i["written_off_on"] < T), 0.0)
    gi = i[due].groupby("account_id")
    base["days_late_mean"] = gi["late_days"].mean()
    base["late_payment_share"] = gi["late"].mean()
    base["overdue_usd"] = i.groupby("account_id")["overdue"].sum()
    # tickets
    t = read("tickets", ["account_id", "opened_at", "closed_at", "priority", "csat"])
    t = t[(t["opened_at"] < T) & (t["opened_at"] >= a12)]
    closed = t["closed_at"] < T
    t["hours"] = ((t["closed_at"] - t["opened_at"]).dt.total_seconds() / 3600).where(closed)
    t["csat"] = t["csat"].where(closed)
    t["urgent"] = t["priority"] == "urgent"
    gt = t.groupby("account_id")
    base["n_tickets"] = gt.size()
    base["urgent_ticket_share"] = gt["urgent"].mean()
    base["resolution_hours_mean"], base["csat_mean"] = gt["hours"].mean(), gt["csat"].mean()
    # usage: the big table
    u = read("usage", ["account_id", "date", "active_users", "events"])
    u["date"] = pd.to_datetime(u["date"])
    u = u[(u["date"] < T) & (u["date"] >= T - 180 * day)]
    recent = u["date"] >= T - 90 * day
    base["active_users"] = u[recent].groupby("account_id")["active_users"].mean()
    base["events_90d"] = u[recent].groupby("account_id")["events"].sum()
    prev = u[~recent].groupby("account_id")["events"].sum()
    base["usage_trend_90d"] = base["events_90d"] / prev.reindex(base.index).where(lambda s: s > 0) - 1
    # grades: the latest quarter that ended before as_of
    gr = read("am_grades")
    gr["qi"] = gr["period"].str[:4].astype(int) * 4 + gr["period"].str[-1].astype(int) - 1
    last_q = as_of.year * 4 + (as_of.month - 1) // 3 - (1 if (as_of + dt.timedelta(days=1)).month % 3 == 1
                                                        and (as_of + dt.timedelta(days=1)).day == 1 else 1)
    gr = gr[gr["qi"] <= last_q]
    gr = gr[gr["qi"] == gr.groupby("account_id")["qi"].transform("max")]
    base["am_partnerability"] = gr.groupby("account_id")["partnerability"].mean()
    acc = read("accounts").drop_duplicates("account_id").set_index("account_id")
    return base.join(acc, how="left").reset_index()


WORKERS = {"snapshot": worker_snapshot, "floor": worker_floor, "pandas": worker_pandas}


# --------------------------------------------------------------------------- driver


def measure(kind: str, folder: Path, as_of: str) -> dict:
    cmd = ["/usr/bin/time", "-v", sys.executable, __file__, "--worker", kind, "--data", str(folder), "--as-of", as_of]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": proc.stderr[-2000:]}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    result["peak_rss_gb"] = int(rss.group(1)) / 1024**2 if rss else None
    wall = re.search(r"Elapsed \(wall clock\) time.*: (.+)", proc.stderr)
    result["process_wall"] = wall.group(1).strip() if wall else None
    return result


def _mem_available_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return float("nan")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--accounts", type=int, default=1_000_000)
    p.add_argument("--years", type=int, default=5)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--as-of", default="2025-06-30")
    p.add_argument("--data", help="a folder with the generated Parquet tables (generated when absent)")
    p.add_argument("--skip-pandas", action="store_true", help="do not run the pandas implementation")
    p.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        out = WORKERS[args.worker](Path(args.data), dt.date.fromisoformat(args.as_of))
        print(json.dumps(out))
        return

    from icp.synth import make_sample

    folder = Path(args.data or Path(tempfile.gettempdir()) / f"icp-bench-{args.accounts}-{args.years}y-{args.seed}")
    if not (folder / "usage.parquet").exists():
        start = time.perf_counter()
        make_sample(folder, accounts=args.accounts, years=args.years, fmt="parquet", usage_grain="week", seed=args.seed)
        print(f"generated {folder} in {time.perf_counter() - start:.0f} s", flush=True)
    import duckdb

    rows = {t: duckdb.sql(f"SELECT count(*) FROM read_parquet('{folder / (t + '.parquet')}')").fetchall()[0][0]
            for t in TABLES}
    print("rows:", rows, flush=True)
    result = {"accounts": args.accounts, "as_of": args.as_of, "rows": rows, "cpu_count": os.cpu_count(),
              "threads": int(os.environ.get("BENCH_THREADS", "2"))}
    result["floor"] = measure("floor", folder, args.as_of)
    print("floor:", result["floor"], flush=True)
    result["snapshot"] = measure("snapshot", folder, args.as_of)
    print("snapshot:", result["snapshot"], flush=True)
    # pandas needs several times the usage table in memory: run it only when the machine has room
    need_gb = rows["usage"] * 120 / 1e9 + 1
    if args.skip_pandas or _mem_available_gb() < need_gb * 1.3:
        result["pandas"] = {"skipped": f"needs about {need_gb:.0f} GB, {_mem_available_gb():.0f} GB available"}
    else:
        result["pandas"] = measure("pandas", folder, args.as_of)
    print("pandas:", result["pandas"], flush=True)
    snap, pan, floor = result["snapshot"], result["pandas"], result["floor"]
    result["speedup_vs_pandas"] = pan["seconds"] / snap["seconds"] if "seconds" in pan and "seconds" in snap else None
    result["ratio_to_floor"] = snap["seconds"] / floor["seconds"] if "seconds" in snap and "seconds" in floor else None
    if "seconds" in pan:
        a = pd.read_parquet(folder.parent / f"{folder.name}-snapshot.parquet").set_index("account_id")
        b = pd.read_parquet(folder.parent / f"{folder.name}-pandas.parquet").set_index("account_id")
        same = {}
        for col in ("arr_usd", "events_90d", "days_late_mean", "revenue_horizon_usd", "am_partnerability"):
            x, y = a[col].astype(float), b[col].reindex(a.index).astype(float)
            if col == "events_90d":
                y = y.fillna(0.0)
            same[col] = bool(np.allclose(x, y, rtol=1e-9, equal_nan=True))
        result["pandas_agrees"] = {"rows": len(a) == len(b), **same}
    result["targets"] = TARGETS
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_snapshot.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    (RESULTS / "bench_snapshot.md").write_text(_markdown(result))
    print(_markdown(result))


def _markdown(r: dict) -> str:
    def sec(x):
        return f"{x['seconds']:.1f} s" if "seconds" in x else x.get("skipped", "error")

    def gb(x):
        return f"{x['peak_rss_gb']:.2f} GB" if x.get("peak_rss_gb") else "-"

    lines = [
        f"# Snapshot benchmark: {r['accounts']:,} accounts, {r['rows']['usage']:,} usage rows",
        "",
        f"Invoices {r['rows']['invoices']:,}, tickets {r['rows']['tickets']:,}, contracts {r['rows']['contracts']:,}, "
        f"grades {r['rows']['am_grades']:,}; as_of {r['as_of']}; {r['threads']} DuckDB threads on {r['cpu_count']} cores.",
        "",
        "| run | wall time | peak RSS | target |",
        "|---|---|---|---|",
        f"| icp.snapshot on DuckDB | {sec(r['snapshot'])} | {gb(r['snapshot'])} | <= 30 s, <= 3 GB |",
        f"| pandas, same features | {sec(r['pandas'])} | {gb(r['pandas'])} | snapshot >= 4x faster |",
        f"| floor: one DuckDB scan summing usage | {sec(r['floor'])} | {gb(r['floor'])} | snapshot <= 3x |",
        "",
    ]
    if r.get("speedup_vs_pandas"):
        lines.append(f"Speed-up against pandas: {r['speedup_vs_pandas']:.1f}x.  ")
    if r.get("ratio_to_floor"):
        lines.append(f"Snapshot / floor: {r['ratio_to_floor']:.2f}x.")
    if r.get("pandas_agrees"):
        lines.append(f"\nThe pandas implementation agrees on: {r['pandas_agrees']}.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
