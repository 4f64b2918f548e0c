#!/usr/bin/python3
"""Record-by-record agreement of `mike run` (RUN_DIR/run.h5) and easyedit_loop.py (metrics.json).

Compares, for every record and metric name mike logs, the pre and post value of
each row (a record's rows of one metric in order: i_generality has one per
I-Gen image), and the FT edit statistics (steps exactly; loss_first/loss_last
to a relative 1e-5, since they are float32 losses of different code paths).

Tolerance for metric values: --tol (default 0 = exact, float64 ==). Every metric
mike logs is a ratio of small integers (token_acc, agreements) or a function of
the generated text (exact_match, mention, BLEU-4, ROUGE-L, computed by the same
formula in the same order), so equal predictions give bitwise equal values; a
difference means a different prediction or generation, which is what we report.

Records the Python run did not evaluate (--limit) are skipped and counted.
Exit status: 0 when everything compared agrees, 1 otherwise.

usage: compare_metrics.py RUN_DIR metrics.json [--tol T] [--max-lines N]
"""
import argparse
import json
import os
import sys

import h5py


def mike_rows(run_dir):
    rows = {}  # (record, metric) -> [(pre, post), ...] in log order
    edits = {}
    with h5py.File(os.path.join(run_dir, "run.h5"), "r") as f:
        for metric, g in f["metrics"].items():
            ids = [x.decode() if isinstance(x, bytes) else str(x) for x in g["record_id"][()]]
            for rid, pre, post in zip(ids, g["pre"][()], g["post"][()]):
                rows.setdefault((rid, metric), []).append((float(pre), float(post)))
        e = f["edits"]
        ids = [x.decode() if isinstance(x, bytes) else str(x) for x in e["record_id"][()]]
        stats = {k: e["stats"][k][()] for k in e["stats"]}
        for i, rid in enumerate(ids):
            edits[rid] = {k: float(v[i]) for k, v in stats.items()}
    return rows, edits


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir")
    ap.add_argument("metrics_json")
    ap.add_argument("--tol", type=float, default=0.0, help="absolute tolerance on metric values (default exact)")
    ap.add_argument("--max-lines", type=int, default=60)
    a = ap.parse_args()
    rows, edits = mike_rows(a.run_dir)
    py = json.load(open(a.metrics_json))
    py_rows, py_edits = {}, {}
    for r in py["results"]:
        py_edits[r["record_id"]] = r["edit"]
        for m in r["metrics"]:
            py_rows.setdefault((r["record_id"], m["metric"]), []).append((m["pre"], m["post"]))
    done = {rid for rid, _ in py_rows}
    mike_records = {rid for rid, _ in rows}
    diffs, compared, values = [], 0, 0
    for key in sorted(set(rows) | set(py_rows)):
        rid, metric = key
        if rid not in done:
            continue
        m, p = rows.get(key), py_rows.get(key)
        if m is None or p is None or len(m) != len(p):
            diffs.append(f"{rid} {metric}: rows mike {len(m or [])} vs python {len(p or [])}")
            continue
        compared += 1
        for i, ((mpre, mpost), (ppre, ppost)) in enumerate(zip(m, p)):
            values += 2
            tag = f"{rid} {metric}" + (f"[{i}]" if len(m) > 1 else "")
            if abs(mpre - ppre) > a.tol:
                diffs.append(f"{tag} pre: mike {mpre!r} python {ppre!r}")
            if abs(mpost - ppost) > a.tol:
                diffs.append(f"{tag} post: mike {mpost!r} python {ppost!r}")
    edit_diffs = []
    for rid in sorted(done):
        me, pe = edits.get(rid), py_edits.get(rid)
        if me is None:
            edit_diffs.append(f"{rid}: no edit row in run.h5")
            continue
        if int(me["steps"]) != int(pe["steps"]):
            edit_diffs.append(f"{rid} edit steps: mike {int(me['steps'])} python {pe['steps']}")
        for k in ("loss_first", "loss_last"):
            if abs(me[k] - pe[k]) > 1e-5 * max(1.0, abs(me[k])):
                edit_diffs.append(f"{rid} edit {k}: mike {me[k]!r} python {pe[k]!r}")
    skipped = len(mike_records - done)
    print(f"compare {a.run_dir} vs {a.metrics_json} (task {py.get('task')}, kv_cache {py.get('kv_cache')}): "
          f"{len(done)} records, {compared} (record, metric) pairs, {values} pre/post values, tol {a.tol}"
          + (f"; {skipped} mike records not in the python run (--limit)" if skipped else ""))
    for line in (diffs + edit_diffs)[:a.max_lines]:
        print("  DIFF " + line)
    if len(diffs + edit_diffs) > a.max_lines:
        print(f"  ... {len(diffs + edit_diffs) - a.max_lines} more")
    ok = not diffs and not edit_diffs
    print(f"  {'AGREE' if ok else 'DISAGREE'}: {len(diffs)} metric value(s) differ, {len(edit_diffs)} edit stat(s) differ")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
