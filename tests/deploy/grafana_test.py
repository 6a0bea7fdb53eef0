#!/usr/bin/python3
"""deploy/grafana/wasmq.json: a dashboard Grafana imports (panels with targets on a Prometheus data source
variable), and every metric its PromQL names is one a live `wasmq serve` exports on /metrics (besides
Prometheus's own `up`).

usage: grafana_test.py WASMQ_BINARY DEPLOY_DIR"""
import json
import os
import re
import sys

import harness
from harness import check

WASMQ, DEPLOY = sys.argv[1:3]
dashboard = json.load(open(os.path.join(DEPLOY, "grafana", "wasmq.json")))
PROMQL_WORDS = {"sum", "max", "min", "by", "rate", "increase", "histogram_quantile", "le", "job", "mode", "status",
                "route", "code", "cause", "up"}


def live_metric_families():
    with harness.tempdir("grafana-") as d:
        port = harness.free_port()
        s = harness.Wasmq(WASMQ, ["serve", "--addr", f"127.0.0.1:{port}", "--workers", "0", "--pipelines", "",
                                  "--data-dir", os.path.join(d, "data")], d)
        try:
            s.wait_ready()
            status, body = harness.http_get(f"http://127.0.0.1:{port}/metrics")
            check(status == 200, f"/metrics: {status}")
            return set(re.findall(r"^# TYPE (\S+) (\S+)", body, re.M)), body
        finally:
            s.stop()


def shaped_for_grafana():
    check(dashboard.get("uid") == "wasmq" and dashboard.get("panels"), "uid and panels")
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    check(variables.get("datasource", {}).get("query") == "prometheus", "a Prometheus data source variable")
    ids = [p["id"] for p in dashboard["panels"]]
    check(len(ids) == len(set(ids)), "panel ids repeat")
    for p in dashboard["panels"]:
        check(p["datasource"]["uid"] == "${datasource}", f"panel {p['title']}: data source")
        check(p["targets"] and all(t.get("expr") for t in p["targets"]), f"panel {p['title']}: no expression")


def every_metric_exists():
    families, body = live_metric_families()
    kinds = dict(families)
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs.append(dashboard["templating"]["list"][1]["definition"])
    named = set()
    for e in exprs:
        e = re.sub(r'\{[^}]*\}', "", e)  # label matchers
        e = re.sub(r"\[[^\]]*\]", "", e)  # ranges
        named |= {w for w in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", e) if w not in PROMQL_WORDS
                  and not re.fullmatch(r"\d.*", w)}
    named.discard("label_values")
    missing = []
    for name in sorted(named):
        family = re.sub(r"_(bucket|count|sum)$", "", name)
        if name in kinds or (family in kinds and kinds[family] == "histogram"):
            continue
        missing.append(name)
    check(not missing, f"named by the dashboard, not exported by wasmq serve: {missing}")
    print(f"     {len(named)} metric names, all exported: {' '.join(sorted(named))}")


harness.run_checks([
    ("the dashboard is Grafana's shape, on a Prometheus data source variable", shaped_for_grafana),
    ("every metric a dashboard expression names is on a live /metrics", every_metric_exists),
])
