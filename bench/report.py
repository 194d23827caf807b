#!/usr/bin/env python3
"""Turn the raw results of bench/run-bench.sh into a table or JSON.

    report.py RESULTS_DIR [--json]

RESULTS_DIR holds what run-bench.sh left there:
  info.json                  run parameters and environment (the header)
  r<N>/                      round N of BENCH_REPEAT (a directory without
                             r<N> subdirectories is read as one round):
    <target>/<job>.json      fio --output-format=json output, one per job
    <target>/<job>.err       a job's stderr
    <target>/meta.json       bench/metabench output
    <target>/append.json     bench/lat append (memcpy: bench/lat raw)
    <target>/small.json      bench/lat small
    holdfs_shim/<job>.dpstats  HOLDFS_DATAPATH_STATS output of that job's
                             processes (one JSON object a line), if any
    memcpy/raw.json          bench/rawcopy output
Each cell is the median over the rounds, with the minimum and maximum;
each ratio is taken per round (both sides from the same round) and
summarised the same way.  A target of the issue counts as met only when
it holds in every round.  Only the Python standard library is used.
"""
import json
import os
import re
import statistics
import sys

TARGETS = ["holdfs", "holdfs_uring", "holdfs_shim", "passthrough", "tmpfs",
           "memcpy"]
COLUMN = {"holdfs": "holdfs", "holdfs_uring": "holdfs+uring",
          "holdfs_shim": "holdfs+shim",
          "passthrough": "passthrough_ll", "tmpfs": "tmpfs",
          "memcpy": "memcpy"}
# Ratio columns: numerator / denominator, shown when both ran.
RATIOS = [("holdfs", "passthrough"), ("holdfs", "tmpfs"), ("holdfs", "memcpy"),
          ("holdfs_uring", "holdfs"), ("holdfs_uring", "passthrough"),
          ("holdfs_shim", "holdfs"), ("holdfs_shim", "tmpfs"),
          ("holdfs_shim", "memcpy")]

# (row key, label, unit, places, lower is better, source):
#   ("fio", direction, "iops" | "mibs")  fio job <row key>
#   ("meta", field)                      metabench's meta.json
#   ("lat", file, field)                 bench/lat's <file>.json
ROWS = [
    ("randread", "4 KiB randread, psync", "IOPS", 0, False,
     ("fio", "read", "iops")),
    ("randwrite", "4 KiB randwrite, psync", "IOPS", 0, False,
     ("fio", "write", "iops")),
    ("seqread", "1 MiB seq read", "MiB/s", 0, False, ("fio", "read", "mibs")),
    ("seqwrite", "1 MiB seq write", "MiB/s", 0, False,
     ("fio", "write", "mibs")),
    ("create", "create (open O_CREAT+close)", "ops/s", 0, False,
     ("meta", "create")),
    ("stat", "stat", "ops/s", 0, False, ("meta", "stat")),
    ("unlink", "unlink", "ops/s", 0, False, ("meta", "unlink")),
    ("create2", "create, 2 threads in 2 dirs", "ops/s", 0, False,
     ("meta", "create_2dirs")),
    ("create2_scale", "create: 2 threads / 1 thread", "x", 2, False,
     ("meta", "create_2dirs_scale")),
    ("append_p50", "4 KiB append+fsync p50", "us", 2, True,
     ("lat", "append", "p50_us")),
    ("append_p99", "4 KiB append+fsync p99", "us", 2, True,
     ("lat", "append", "p99_us")),
    ("small_ops", "small file open+read 4K+close", "ops/s", 0, False,
     ("lat", "small", "ops_per_s")),
    ("small_p50", "small file open+read 4K+close p50", "us", 2, True,
     ("lat", "small", "p50_us")),
]
LABEL = {r[0]: r[1] for r in ROWS}

# The targets: (row, numerator, denominator, comparison, bound).
GOALS = [
    ("randwrite", "holdfs_shim", "tmpfs", ">=", 1.0),
    ("randread", "holdfs_shim", "tmpfs", ">=", 1.0),
    ("seqread", "holdfs_shim", "memcpy", ">=", 0.9),
    ("seqwrite", "holdfs_shim", "memcpy", ">=", 0.9),
    ("append_p50", "holdfs_shim", "memcpy", "<=", 2.0),
    ("small_ops", "holdfs_shim", "holdfs", ">=", 0.8),
]

# Processes run under the shim, one HOLDFS_DATAPATH_STATS file each.
DP_JOBS = ["seqwrite", "seqread", "randread", "randwrite", "meta", "append",
           "small"]
# enum holdfs_dp_reason order (include/holdfs/holdfs.h), for a kernel_why
# given as a list.
DP_REASONS = ["first_call", "hole", "no_lease", "revoked", "slot_busy",
              "no_slot", "flags", "changed", "not_allowed", "other"]


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def rounds_of(res):
    """The round directories in order; res itself for a one-round layout."""
    found = []
    try:
        names = os.listdir(res)
    except OSError:
        names = []
    for name in names:
        m = re.fullmatch(r"r(\d+)", name)
        if m and os.path.isdir(os.path.join(res, name)):
            found.append((int(m.group(1)), os.path.join(res, name)))
    return [p for _n, p in sorted(found)] or [res]


def fio_value(rdir, target, row, direction, what):
    doc = load(os.path.join(rdir, target, row + ".json"))
    if not doc or not doc.get("jobs"):
        return None, None
    job = doc["jobs"][0]
    if job.get("error"):
        return None, None
    part = job[direction]
    value = part["iops"] if what == "iops" else part["bw_bytes"] / 2**20
    lat = part.get("clat_ns", {}).get("mean")
    return value, (lat / 1000.0 if lat is not None else None)


def cell_value(rdir, target, key, src):
    """(value, fio clat mean in us or None) of one cell in one round."""
    kind = src[0]
    if target == "memcpy" and kind == "fio":
        raw = load(os.path.join(rdir, target, "raw.json")) or {}
        return raw.get(key), None
    if kind == "fio":
        return fio_value(rdir, target, key, src[1], src[2])
    name = "meta" if kind == "meta" else src[1]
    doc = load(os.path.join(rdir, target, name + ".json")) or {}
    return doc.get(src[-1]), None


def summary(values):
    """{"value": median, "min", "max", "runs"} of the rounds that have one."""
    have = [v for v in values if v is not None]
    if not have:
        return {"value": None, "min": None, "max": None, "runs": values}
    return {"value": statistics.median(have), "min": min(have),
            "max": max(have), "runs": values}


def collect(res):
    """info, targets that ran, rounds, and {row: {"cells", "ratios"}}."""
    info = load(os.path.join(res, "info.json")) or {}
    ran = [t for t in TARGETS if t in info.get("targets", [])]
    rounds = rounds_of(res)
    table = {}
    for key, _label, _unit, _places, _low, src in ROWS:
        per = {t: [cell_value(r, t, key, src) for r in rounds] for t in ran}
        cells = {}
        for t in ran:
            cells[t] = summary([v for v, _l in per[t]])
            if src[0] == "fio" and t != "memcpy":
                lats = [lat for _v, lat in per[t] if lat is not None]
                cells[t]["clat_mean_us"] = (statistics.median(lats)
                                            if lats else None)
        ratios = {}
        for a, b in RATIOS:
            if a in ran and b in ran:
                ratios[(a, b)] = summary([
                    x / y if x is not None and y else None
                    for (x, _), (y, _) in zip(per[a], per[b])])
        table[key] = {"cells": cells, "ratios": ratios}
    return info, ran, rounds, table


def goals(table, nrounds):
    out = []
    for key, a, b, op, bound in GOALS:
        r = table[key]["ratios"].get((a, b))
        runs = [x for x in (r["runs"] if r else []) if x is not None]
        ok = [x >= bound if op == ">=" else x <= bound for x in runs]
        if not runs:
            verdict = "not measured"
        elif all(ok) and len(runs) == nrounds:
            verdict = "met"
        elif all(ok):
            verdict = f"met in {len(runs)} of {nrounds} rounds (others failed)"
        else:
            verdict = f"MISSED (held in {sum(ok)} of {nrounds} rounds)"
        out.append({
            "row": key, "label": LABEL[key],
            "ratio": f"{COLUMN[a]}/{COLUMN[b]}", "target": f"{op} {bound}",
            "value": r["value"] if r else None,
            "min": r["min"] if r else None, "max": r["max"] if r else None,
            "verdict": verdict,
        })
    return out


# Fields of a stats line that are not counters.
DP_NOT_COUNTERS = {"pid", "ppid", "tid", "time", "ts", "version", "exe"}


def add_counts(total, doc):
    for k, v in doc.items():
        if isinstance(v, bool) or k in DP_NOT_COUNTERS:
            continue
        if isinstance(v, (int, float)):
            total[k] = total.get(k, 0) + v
        elif k == "kernel_why" and isinstance(v, dict):
            why = total.setdefault("kernel_why", {})
            for reason, n in v.items():
                if isinstance(n, (int, float)):
                    why[reason] = why.get(reason, 0) + n
        elif k == "kernel_why" and isinstance(v, list):
            why = total.setdefault("kernel_why", {})
            for i, n in enumerate(v):
                reason = DP_REASONS[i] if i < len(DP_REASONS) else str(i)
                if isinstance(n, (int, float)):
                    why[reason] = why.get(reason, 0) + n


def datapath(rounds):
    """{job: summed counters, or None when no round left a stats file}."""
    jobs = {}
    for job in DP_JOBS:
        total, seen = {}, False
        for r in rounds:
            try:
                with open(os.path.join(r, "holdfs_shim", job + ".dpstats")) as f:
                    lines = f.read().splitlines()
            except OSError:
                continue
            for line in lines:
                if not line.strip():
                    continue
                try:
                    doc = json.loads(line)
                except ValueError:
                    total["unparsed_lines"] = total.get("unparsed_lines", 0) + 1
                    seen = True
                    continue
                if isinstance(doc, dict):
                    add_counts(total, doc)
                    total["processes"] = total.get("processes", 0) + 1
                    seen = True
        jobs[job] = total if seen else None
    return jobs


SHORT = {"holdfs": "holdfs", "holdfs_uring": "uring", "holdfs_shim": "shim",
         "passthrough": "pt",
         "tmpfs": "tmpfs", "memcpy": "memcpy"}


def fmt(v, places=0):
    if v is None:
        return "-"
    return f"{v:,.{places}f}"


def fmt_short(v):
    """About three significant digits, k/M/G from 10,000 on: for the
    min–max lines."""
    if v is None:
        return "-"
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e4, "k")):
        if abs(v) >= div:
            if suffix == "k":
                div = 1e3
            return f"{v / div:.3g}{suffix}"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.3g}" if abs(v) >= 1 else f"{v:.2f}"


def fmt_range(s, places):
    if s["min"] is None:
        return "-"
    if places is None:
        return f"{fmt_short(s['min'])}–{fmt_short(s['max'])}"
    return f"{fmt(s['min'], places)}–{fmt(s['max'], places)}"


def print_grid(head, rows):
    """Left-align the first two columns, right-align the rest; a row of
    None is a blank line."""
    real = [r for r in rows if r is not None]
    widths = [max(len(r[i]) for r in real + [head]) for i in range(len(head))]
    line = "  ".join(h.ljust(widths[i]) if i < 2 else h.rjust(widths[i])
                     for i, h in enumerate(head))
    print(line.rstrip())
    print("-" * len(line))
    for r in rows:
        if r is None:
            print()
            continue
        print("  ".join(c.ljust(widths[i]) if i < 2 else c.rjust(widths[i])
                        for i, c in enumerate(r)).rstrip())


def print_datapath(dp, nrounds):
    if all(v is None for v in dp.values()):
        print("data path counters: not available (the shim wrote no "
              "HOLDFS_DATAPATH_STATS file)")
        return
    print(f"data path counters (holdfs+shim, HOLDFS_DATAPATH_STATS, summed "
          f"over {nrounds} round(s) and every process of the job):")
    head = ["job", "", "reads", "writes", "appends", "syncs", "kernel",
            "eio", "leases", "kernel by reason"]
    rows = []
    for job, c in dp.items():
        if c is None:
            rows.append([job, "not available"] + [""] * 7 + [""])
            continue
        why = [f"{k} {int(n):,}" for k, n in
               sorted(c.get("kernel_why", {}).items()) if n]
        if c.get("unparsed_lines"):
            why.append(f"{c['unparsed_lines']} unparsed line(s)")
        why = ", ".join(why)
        kernel = c.get("kernel")
        if kernel is None and "kernel_why" in c:
            kernel = sum(c["kernel_why"].values())
        rows.append([job, ""] + [fmt(c.get(k)) for k in (
            "reads", "writes", "appends", "syncs")] +
            [fmt(kernel), fmt(c.get("eio")), fmt(c.get("leases")), why or "-"])
    print_grid(head, rows)
    print("  (reads/writes/appends/syncs: calls served in the process; "
          "kernel: calls on served descriptors that went to the kernel)")


def print_table(info, ran, rounds, table):
    n = len(rounds)
    print("holdfs benchmark — numbers are for this machine only; "
          "no test asserts them")
    for k in ("date", "host", "kernel", "cpu", "cpus", "fio",
              "file_size", "runtime_s", "io", "meta_files", "latency",
              "repeat"):
        if k in info:
            print(f"  {k:12} {info[k]}")
    for t in ran:
        if t in info.get("mode", {}):
            print(f"  {COLUMN[t] + ':':16} {info['mode'][t]}")
    print()

    # With several rounds each row has a second line: min–max.
    what = f"median of {n} rounds, min–max below" if n > 1 else "one round"
    print(f"results ({what}); rows in us: lower is better")
    rows = []
    for key, label, unit, places, _low, _src in ROWS:
        cells = table[key]["cells"]
        rows.append([label, unit] +
                    [fmt(cells[t]["value"], places) for t in ran])
        if n > 1:
            rows.append(["", ""] + [fmt_range(cells[t], None) for t in ran])
    print_grid(["job", "unit"] + [COLUMN[t] for t in ran], rows)
    if "memcpy" in ran:
        print("  memcpy on the append rows: bench/lat raw, pmem2_memcpy "
              "(with its persist) of 4 KiB at an advancing offset")

    ratio_keys = [k for k in RATIOS if k[0] in ran and k[1] in ran]
    if ratio_keys:
        print()
        print("ratios, left / right, taken per round (shim = holdfs+shim, "
              "pt = passthrough_ll); above 1 is faster except on the us rows")
        rows = []
        for key, label, _unit, _places, _low, _src in ROWS:
            ratios = table[key]["ratios"]
            rows.append([label, ""] +
                        [fmt(ratios[k]["value"], 2) for k in ratio_keys])
            if n > 1:
                rows.append(["", ""] +
                            [fmt_range(ratios[k], 2) for k in ratio_keys])
        print_grid(["job", ""] + [f"{SHORT[a]}/{SHORT[b]}"
                                  for a, b in ratio_keys], rows)

    if "holdfs_shim" in ran:
        print()
        print("performance targets (bench/README.md; met = holds in every "
              "round)")
        grows = []
        for g in goals(table, n):
            grows.append([g["label"], g["ratio"], g["target"],
                          fmt(g["value"], 2)] +
                         ([fmt_range(g, 2)] if n > 1 else []) +
                         [g["verdict"]])
        print_grid(["row", "ratio", "target", "median" if n > 1 else "value"]
                   + (["min–max"] if n > 1 else []) + ["verdict"], grows)
        print()
        print_datapath(datapath(rounds), n)
    failed = info.get("failed_jobs") or []
    if failed:
        print()
        print("jobs that failed (shown as '-'): " + ", ".join(failed))


def as_json(info, ran, rounds, table):
    rows = []
    for key, label, unit, _places, low, _src in ROWS:
        cells, ratios = table[key]["cells"], table[key]["ratios"]
        rows.append({
            "job": key, "label": label, "unit": unit,
            "lower_is_better": low,
            "results": {COLUMN[t]: cells[t] for t in ran},
            "ratios": {f"{COLUMN[a]}/{COLUMN[b]}": v
                       for (a, b), v in ratios.items()},
        })
    doc = {"info": info, "rounds": len(rounds), "rows": rows,
           "targets": goals(table, len(rounds))}
    if "holdfs_shim" in ran:
        dp = datapath(rounds)
        doc["datapath"] = {"available": any(v is not None
                                            for v in dp.values()),
                           "jobs": dp}
    return doc


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) >= 2 else 2
    info, ran, rounds, table = collect(argv[1])
    if "--json" in argv[2:]:
        json.dump(as_json(info, ran, rounds, table), sys.stdout, indent=2)
        print()
    else:
        print_table(info, ran, rounds, table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
