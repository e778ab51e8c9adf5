#!/usr/bin/python3
"""Helper for bench/run.sh: parse one sysbench run, print the results table,
write the JSON file.  Standard library only.

  sbreport.py parse  OUTFILE key=value...   -> one JSON object on stdout
  sbreport.py line   JSONL                  -> one progress line for the last row
  sbreport.py table  JSONL META.json OUT.json
"""
import json
import re
import sys


def num(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def parse_sysbench(text):
    """Return the figures sysbench 1.0 prints at the end of a run."""
    r = {}
    pats = {
        "queries": r"^\s*queries:\s+(\d+)\s+\(([\d.]+) per sec\.\)",
        "transactions": r"^\s*transactions:\s+(\d+)\s+\(([\d.]+) per sec\.\)",
        "errors": r"^\s*ignored errors:\s+(\d+)\s+\(([\d.]+) per sec\.\)",
        "reconnects": r"^\s*reconnects:\s+(\d+)\s+\(([\d.]+) per sec\.\)",
    }
    for key, pat in pats.items():
        m = re.search(pat, text, re.M)
        if m:
            r[key] = int(m.group(1))
            r[key + "_per_sec"] = float(m.group(2))
    m = re.search(r"^\s*total time:\s+([\d.]+)s", text, re.M)
    if m:
        r["total_time_s"] = float(m.group(1))
    lat = text.split("Latency (ms):", 1)
    if len(lat) == 2:
        for key, label in (("lat_min_ms", "min"), ("lat_avg_ms", "avg"),
                           ("lat_max_ms", "max"), ("lat_p95_ms", r"\d+th percentile")):
            m = re.search(r"^\s*" + label + r":\s+([\d.]+)", lat[1], re.M)
            if m:
                r[key] = float(m.group(1))
    hist = []
    if "Latency histogram" in text:
        body = text.split("Latency histogram", 1)[1]
        for line in body.splitlines()[2:]:
            m = re.match(r"^\s*([\d.]+)\s+\|[*\s]*?(\d+)\s*$", line)
            if not m:
                if hist:
                    break
                continue
            hist.append((float(m.group(1)), int(m.group(2))))
    total = sum(c for _, c in hist)
    for key, q in (("lat_p50_ms", 0.50), ("lat_p95h_ms", 0.95), ("lat_p99_ms", 0.99)):
        if total:
            need, acc = q * total, 0
            for v, c in hist:
                acc += c
                if acc >= need:
                    r[key] = v
                    break
    fatal = [l.strip() for l in text.splitlines()
             if "FATAL" in l or "error" in l.lower() and "ignored errors" not in l]
    if fatal:
        # the first message that carries a server error code says most
        coded = [l for l in fatal if re.search(r"error:? \d+", l)]
        r["error"] = (coded or fatal)[0]
        r["messages"] = list(dict.fromkeys(fatal))[:8]
    return r


def cmd_parse(args):
    outfile, kvs = args[0], args[1:]
    row = {}
    for kv in kvs:
        k, _, v = kv.partition("=")
        if v == "":
            row[k] = None
        elif re.fullmatch(r"-?\d+", v):
            row[k] = int(v)
        elif num(v) is not None and k not in ("target", "workload", "section"):
            row[k] = float(v)
        else:
            row[k] = v
    try:
        with open(outfile, errors="replace") as f:
            text = f.read()
    except OSError:
        text = ""
    row.update(parse_sysbench(text))
    rc = row.get("rc")
    if row.get("status") is None:
        if rc == 0 and "queries_per_sec" in row:
            row["status"] = "ok"
        elif rc == 124 or rc == 137:
            row["status"] = "timeout"
        else:
            row["status"] = "failed"
    q = row.get("queries") or 0
    tck = row.get("clk_tck") or 100
    for who in ("proxy", "db"):
        d = row.get(who + "_cpu_ticks")
        if d is not None and q > 0:
            row[who + "_cpu_us_per_query"] = round(d * 1e6 / tck / q, 2)
    for k in ("maxused", "peak_sampled"):
        if row.get(k) is not None and row[k] < 0:
            row[k] = None
    # Backend connections used: Max_used_connections during the run minus
    # the sampler's own connection (see run.sh); fall back to the sample peak.
    if row.get("maxused") is not None:
        row["backend_conns"] = row["maxused"]
    elif row.get("peak_sampled") is not None:
        row["backend_conns"] = row["peak_sampled"]
    print(json.dumps(row, sort_keys=True))


def load(jsonl):
    rows = []
    with open(jsonl) as f:
        for line in f:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    return rows


def fmt(v, spec, width):
    if v is None:
        return "-".rjust(width)
    return format(v, spec).rjust(width)


def short(status, target):
    if status == "not built":
        return "%s: not built" % target
    if status == "not started":
        return "%s: did not start" % target
    return status.upper()


COLS = [("workload", 24, "<"), ("thr", 5, ">"), ("target", 8, "<"),
        ("qps", 10, ">"), ("spread", 6, ">"), ("p50 ms", 7, ">"), ("p95 ms", 8, ">"),
        ("p99 ms", 8, ">"),
        ("errors", 6, ">"), ("reconn", 6, ">"), ("cpu µs/q", 9, ">"),
        ("conns", 6, ">"), ("smpl", 5, ">"), ("qps/dir", 7, ">"), ("qps/hap", 7, ">"),
        ("p95/dir", 7, ">"), ("p95/hap", 7, ">")]


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def group_key(r):
    return (r.get("section"), r.get("workload"), r.get("ps_mode"), r.get("threads"))


def label(r):
    w = r.get("workload", "")
    if r.get("ps_mode") == "disable":
        w += " ps=off"
    return w


def render(rows):
    out = []
    head = " ".join(format(n, a + str(w)) for n, w, a in COLS)
    sections = []
    for r in rows:
        if r.get("section") not in sections:
            sections.append(r.get("section"))
    for sec in sections:
        srows = [r for r in rows if r.get("section") == sec]
        out.append("")
        out.append("== %s ==" % srows[0].get("section_title", sec))
        out.append(head)
        out.append("-" * len(head))
        groups = {}
        for r in srows:
            groups.setdefault(group_key(r), {})[r["target"]] = r
        last = None
        for r in srows:
            g = groups[group_key(r)]
            if last is not None and group_key(r)[:3] != last:
                out.append("")
            last = group_key(r)[:3]
            pre = (format(label(r), "<24") + " " + format(r.get("threads"), ">5") + " " +
                   format(r["target"], "<8"))
            if r.get("status") != "ok" and r.get("queries_per_sec") is None:
                line = pre + " " + short(r.get("status", "?"), r["target"])
                if r.get("error"):
                    line += ": " + r["error"][:100]
                out.append(line)
                continue
            d = g.get("direct", {})
            h = g.get("haproxy", {})
            qps = r.get("queries_per_sec")
            p95 = r.get("lat_p95_ms")
            cpu = r.get("proxy_cpu_us_per_query") if r["target"] != "direct" else None
            spread = r.get("qps_spread")
            cells = [
                fmt(qps, ".0f", 10),
                fmt(spread * 100 if spread is not None else None, ".0f", 5) + ("%" if spread is not None else " "),
                fmt(r.get("lat_p50_ms"), ".2f", 7),
                fmt(p95, ".2f", 8), fmt(r.get("lat_p99_ms"), ".2f", 8), fmt(r.get("errors"), "d", 6),
                fmt(r.get("reconnects"), "d", 6), fmt(cpu, ".1f", 9),
                fmt(r.get("backend_conns"), "d", 6), fmt(r.get("peak_sampled"), "d", 5),
                fmt(ratio(qps, d.get("queries_per_sec")) if r["target"] != "direct" else None, ".2f", 7),
                fmt(ratio(qps, h.get("queries_per_sec")) if r["target"] == "mymux" else None, ".2f", 7),
                fmt(ratio(p95, d.get("lat_p95_ms")) if r["target"] != "direct" else None, ".2f", 7),
                fmt(ratio(p95, h.get("lat_p95_ms")) if r["target"] == "mymux" else None, ".2f", 7),
            ]
            line = pre + " " + " ".join(cells)
            if r.get("status") != "ok":
                line += "  [%s]" % r.get("status")
            out.append(line)
        notes = list(dict.fromkeys(n for r in srows for n in (r.get("notes") or "").split("|") if n))
        for n in notes:
            out.append("note: " + n)
    return "\n".join(out)


MEDIAN_KEYS = ("queries_per_sec", "lat_avg_ms", "lat_p95_ms", "lat_p50_ms", "lat_p99_ms",
               "proxy_cpu_us_per_query", "db_cpu_us_per_query", "errors", "reconnects",
               "backend_conns", "peak_sampled")


def median(vals):
    v = sorted(vals)
    n = len(v)
    if n == 0:
        return None
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def aggregate(rows):
    """One row per (section, workload, ps mode, threads, target): the medians of
    the repetitions that ran, with their number and the spread of qps."""
    out, index = [], {}
    for r in rows:
        k = group_key(r) + (r.get("target"),)
        if k not in index:
            index[k] = len(out)
            out.append([])
        out[index[k]].append(r)
    agg = []
    for reps in out:
        ok = [r for r in reps if r.get("queries_per_sec") is not None]
        a = dict((ok or reps)[0])
        a["runs"] = len(ok)
        a["runs_tried"] = len(reps)
        for key in MEDIAN_KEYS:
            vals = [r[key] for r in ok if r.get(key) is not None]
            m = median(vals)
            if m is not None and key in ("errors", "reconnects", "backend_conns", "peak_sampled"):
                m = int(m)
            a[key] = m
        q = [r["queries_per_sec"] for r in ok]
        a["qps_spread"] = (max(q) - min(q)) / a["queries_per_sec"] if len(q) > 1 and a["queries_per_sec"] else None
        if len(ok) < len(reps):
            bad = [r.get("status") for r in reps if r.get("queries_per_sec") is None]
            a["notes"] = "|".join(filter(None, [a.get("notes"), "%d of %d runs failed: %s" % (
                len(bad), len(reps), ", ".join(sorted(set(map(str, bad)))))]))
        agg.append(a)
    return agg


def summary(rows):
    """The ratios only, one line per group that has a mymux row."""
    out = []
    groups = {}
    order = []
    for r in rows:
        k = group_key(r)
        if k not in groups:
            order.append(k)
        groups.setdefault(k, {})[r["target"]] = r
    for k in order:
        g = groups[k]
        m = g.get("mymux")
        if not m or m.get("queries_per_sec") is None:
            continue
        d, h = g.get("direct", {}), g.get("haproxy", {})
        parts = []
        for name, o in (("direct", d), ("haproxy", h)):
            rq = ratio(m.get("queries_per_sec"), o.get("queries_per_sec"))
            rp = ratio(m.get("lat_p95_ms"), o.get("lat_p95_ms"))
            if rq is not None:
                parts.append("qps mymux/%s %.2f" % (name, rq))
            if rp is not None:
                parts.append("p95 mymux/%s %.2f" % (name, rp))
            if name == "haproxy":
                rc = ratio(m.get("proxy_cpu_us_per_query"), o.get("proxy_cpu_us_per_query"))
                if rc is not None:
                    parts.append("cpu/q mymux/haproxy %.2f" % rc)
        out.append("%-28s %5s thr: %s" % (label(m) + (" [many]" if k[0] == "many" else ""),
                                         m.get("threads"), ", ".join(parts)))
    return "\n".join(out)


def cmd_line(args):
    rows = load(args[0])
    r = rows[-1]
    s = "%-24s %5s %-8s " % (label(r), r.get("threads"), r.get("target"))
    if r.get("queries_per_sec") is None:
        s += short(r.get("status", "?"), r.get("target"))
        if r.get("error"):
            s += ": " + r["error"][:100]
    else:
        s += "%9.0f qps  avg %7.2f ms  p95 %7.2f ms  err %d  conns %s" % (
            r["queries_per_sec"], r.get("lat_avg_ms") or 0, r.get("lat_p95_ms") or 0,
            r.get("errors") or 0, r.get("backend_conns"))
        if r.get("proxy_cpu_us_per_query") is not None and r.get("target") != "direct":
            s += "  cpu %.1f µs/q" % r["proxy_cpu_us_per_query"]
        if r.get("status") != "ok":
            s += "  [%s]" % r.get("status")
    print(s, flush=True)


def cmd_table(args):
    jsonl, metafile, outfile = args
    rows = load(jsonl)
    with open(metafile) as f:
        meta = json.load(f)
    agg = aggregate(rows)
    print(render(agg))
    s = summary(agg)
    if s:
        print("\nratios of the medians (same run; >1 means mymux has more qps / higher p95 / more CPU per query):")
        print(s)
    with open(outfile, "w") as f:
        json.dump({"meta": meta, "results": rows, "medians": agg}, f, indent=1, sort_keys=True)
        f.write("\n")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    {"parse": cmd_parse, "line": cmd_line, "table": cmd_table}[cmd](args)


if __name__ == "__main__":
    main()
