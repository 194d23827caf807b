#!/usr/bin/env python3
"""Turn the raw results of bench/run-bench.sh into a table or JSON.

    report.py RESULTS_DIR [--json]

RESULTS_DIR holds what run-bench.sh left there:
  info.json                  run parameters and environment (the header)
  <target>/<job>.json        fio --output-format=json output, one per job
  <target>/<job>.err         fio's stderr when a job failed
  <target>/meta.json         bench/metabench output
  memcpy/raw.json            bench/rawcopy output
Only the Python standard library is used.
"""
import json
import os
import sys

TARGETS = ["holdfs", "passthrough", "tmpfs", "memcpy"]
COLUMN = {"holdfs": "holdfs", "passthrough": "passthrough_ll",
          "tmpfs": "tmpfs", "memcpy": "memcpy"}
BASELINES = ["passthrough", "tmpfs", "memcpy"]

# (row key, label, unit, source): source is (kind, fio job or field, what)
ROWS = [
    ("randread", "4 KiB randread, psync", "IOPS", ("fio", "read", "iops")),
    ("randwrite", "4 KiB randwrite, psync", "IOPS", ("fio", "write", "iops")),
    ("seqread", "1 MiB seq read", "MiB/s", ("fio", "read", "mibs")),
    ("seqwrite", "1 MiB seq write", "MiB/s", ("fio", "write", "mibs")),
    ("create", "create (open O_CREAT+close)", "ops/s", ("meta", None, None)),
    ("stat", "stat", "ops/s", ("meta", None, None)),
    ("unlink", "unlink", "ops/s", ("meta", None, None)),
]


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def fio_value(res, target, row, direction, what):
    doc = load(os.path.join(res, target, row + ".json"))
    if not doc or not doc.get("jobs"):
        return None, None
    job = doc["jobs"][0]
    if job.get("error"):
        return None, None
    part = job[direction]
    value = part["iops"] if what == "iops" else part["bw_bytes"] / 2**20
    lat = part.get("clat_ns", {}).get("mean")
    return value, (lat / 1000.0 if lat is not None else None)


def collect(res):
    """{row: {target: {"value": v, "clat_mean_us": l}}} for what ran."""
    info = load(os.path.join(res, "info.json")) or {}
    ran = info.get("targets", [])
    table = {}
    for key, _label, _unit, (kind, direction, what) in ROWS:
        cells = {}
        for t in ran:
            if t == "memcpy":
                raw = load(os.path.join(res, t, "raw.json")) or {}
                v = raw.get(key) if kind == "fio" else None
                cells[t] = {"value": v}
            elif kind == "fio":
                v, lat = fio_value(res, t, key, direction, what)
                cells[t] = {"value": v, "clat_mean_us": lat}
            else:
                meta = load(os.path.join(res, t, "meta.json")) or {}
                cells[t] = {"value": meta.get(key)}
        table[key] = cells
    return info, ran, table


def ratio(cells, base):
    a = cells.get("holdfs", {}).get("value")
    b = cells.get(base, {}).get("value")
    if a is None or not b:
        return None
    return a / b


def fmt(v, places=0):
    if v is None:
        return "-"
    return f"{v:,.{places}f}"


def print_table(info, ran, table):
    print("holdfs benchmark — numbers are for this machine only; "
          "no test asserts them")
    for k in ("date", "host", "kernel", "cpu", "cpus", "fio",
              "file_size", "runtime_s", "io", "meta_files"):
        if k in info:
            print(f"  {k:12} {info[k]}")
    for t in ran:
        if t in info.get("mode", {}):
            print(f"  {COLUMN[t] + ':':16} {info['mode'][t]}")
    print()

    cols = [t for t in TARGETS if t in ran]
    ratios = [b for b in BASELINES if b in ran and "holdfs" in ran]
    head = ["job", "unit"] + [COLUMN[t] for t in cols] + \
        [f"holdfs/{COLUMN[b]}" for b in ratios]
    rows = []
    for key, label, unit, _src in ROWS:
        cells = table[key]
        rows.append([label, unit] +
                    [fmt(cells[t]["value"]) for t in cols] +
                    [fmt(ratio(cells, b), 2) for b in ratios])
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    line = "  ".join(h.ljust(widths[i]) if i < 2 else h.rjust(widths[i])
                     for i, h in enumerate(head))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(c.ljust(widths[i]) if i < 2 else c.rjust(widths[i])
                        for i, c in enumerate(r)))
    failed = info.get("failed_jobs") or []
    if failed:
        print()
        print("jobs that failed (shown as '-'): " + ", ".join(failed))


def as_json(info, ran, table):
    rows = []
    for key, label, unit, _src in ROWS:
        cells = table[key]
        rows.append({
            "job": key, "label": label, "unit": unit,
            "results": {COLUMN[t]: cells[t] for t in TARGETS if t in ran},
            "ratios": {f"holdfs/{COLUMN[b]}": ratio(cells, b)
                       for b in BASELINES if b in ran and "holdfs" in ran},
        })
    return {"info": info, "rows": rows}


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) >= 2 else 2
    info, ran, table = collect(argv[1])
    if "--json" in argv[2:]:
        json.dump(as_json(info, ran, table), sys.stdout, indent=2)
        print()
    else:
        print_table(info, ran, table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
