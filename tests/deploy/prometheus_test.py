#!/usr/bin/python3
"""Debian's prometheus scraping a real `wasmq serve` (127.0.0.1, free ports, temporary directories, both
stopped by pid): the queue-depth series read back through Prometheus's HTTP API follows the tasks the test
creates; a failed module pull shows as wasmq_module_pull_failures_total{cause="network"}; deploy/prometheus's
alert rules load into the running server; and every PromQL expression of deploy/grafana/wasmq.json is accepted
by it and returns data. Scrape and rule evaluation every second; every wait is a poll with a deadline.

usage: prometheus_test.py PROMETHEUS WASMQ_BINARY DEPLOY_DIR SLOW_WASM NOOP_WASM"""
import json
import os
import subprocess
import sys
import time
import urllib.parse

import harness
from harness import check

PROMETHEUS, WASMQ, DEPLOY, SLOW, NOOP = sys.argv[1:6]
PIPELINES = f"slow={SLOW},idle={NOOP}"


def prom_query(base, expr):
    status, body = harness.http_get(base + "/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    check(status in (200, 400, 422), f"query {expr}: HTTP {status} {body}")
    answer = json.loads(body)
    check(answer["status"] == "success", f"query {expr}: {answer.get('error')}")
    return answer["data"]["result"]


def scalar(base, expr):
    result = prom_query(base, expr)
    return float(result[0]["value"][1]) if result else None


def submit(d, store, mode, config="{}"):
    code, out, err = harness.wasmq_cli(WASMQ, ["task", "submit", "--store", store, "--pipelines", PIPELINES,
                                              "--mode", mode, "--max-retries", "0", "--config", config], d)
    check(code == 0, f"submit: {err}")
    return out.strip()


with harness.tempdir("prometheus-") as d:
    store = "sqlite:" + os.path.join(d, "wasmq.db")
    api_port, prom_port, dead_port = harness.free_port(), harness.free_port(), harness.free_port()
    # One worker that runs only mode `slow`: tasks of mode `idle` stay in the queue, so its depth is what
    # the test made it. A task module from a registry that is not there fails its pull (cause network).
    serve = harness.Wasmq(WASMQ, ["serve", "--addr", f"127.0.0.1:{api_port}", "--store", store, "--pipelines",
                                  PIPELINES, "--workers", "1", "--modes", "slow", "--task-modules",
                                  f"127.0.0.1:{dead_port}/", "--data-dir", os.path.join(d, "data")], d, name="serve")
    config = os.path.join(d, "prometheus.yml")
    with open(config, "w") as f:
        f.write(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - {os.path.join(DEPLOY, "prometheus", "alerts.yml")}
scrape_configs:
  - job_name: wasmq
    static_configs:
      - targets: ["127.0.0.1:{api_port}"]
""")
    prom_log = open(os.path.join(d, "prometheus.log"), "w")
    prom = subprocess.Popen([PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={os.path.join(d, 'tsdb')}",
                             f"--web.listen-address=127.0.0.1:{prom_port}"], cwd=d, stdout=prom_log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{prom_port}"
    started = time.monotonic()

    def the_queue_depth_series_follows_the_tasks():
        serve.wait_ready()
        harness.wait_for("Prometheus to answer", lambda: harness.http_get(base + "/-/ready", 1.0)[0] == 200, 30)
        harness.wait_for("a first scrape (up == 1)", lambda: scalar(base, 'up{job="wasmq"}') == 1.0, 30)
        check(scalar(base, "wasmq_queue_depth") == 0.0, "the queue is not empty at the start")
        for _ in range(3):
            submit(d, store, "idle")
        harness.wait_for("wasmq_queue_depth 3 in Prometheus", lambda: scalar(base, "wasmq_queue_depth") == 3.0, 30)
        for _ in range(2):
            submit(d, store, "idle")
        harness.wait_for("wasmq_queue_depth 5 in Prometheus", lambda: scalar(base, "wasmq_queue_depth") == 5.0, 30)
        # The stored series has gone 0 → 3 → 5: read back as a range.
        now = time.time()
        status, body = harness.http_get(base + "/api/v1/query_range?" + urllib.parse.urlencode(
            {"query": "wasmq_queue_depth", "start": now - 120, "end": now, "step": "1s"}))
        check(status == 200, body)
        values = [float(v) for _, v in json.loads(body)["data"]["result"][0]["values"]]
        seen = [v for i, v in enumerate(values) if i == 0 or v != values[i - 1]]
        check(seen == [0.0, 3.0, 5.0], f"queue depth over time: {seen}")
        print(f"     queue depth 0 → 3 → 5 read back through Prometheus {time.monotonic() - started:.1f} s after start")

    def a_failed_pull_is_counted_by_cause():
        task = submit(d, store, "slow", json.dumps({"module": f"127.0.0.1:{dead_port}/wasmq/none:v1"}))
        harness.wait_for("the task to fail", lambda: harness.task_info(WASMQ, d, store, task, PIPELINES)["status"] == "failed")
        info = harness.task_info(WASMQ, d, store, task, PIPELINES)
        check(info["error"]["code"] == "MODULE_UNAVAILABLE", f"error {info['error']}")
        harness.wait_for("the network pull failure in Prometheus",
                         lambda: scalar(base, 'wasmq_module_pull_failures_total{cause="network"}') == 1.0, 30)
        check(scalar(base, 'sum(wasmq_module_pull_failures_total{cause!="network"})') == 0.0, "other causes counted")
        harness.wait_for("the failed task in wasmq_tasks",
                         lambda: scalar(base, 'wasmq_tasks{status="failed"}') == 1.0, 30)

    def the_alert_rules_load_and_evaluate():
        def rules():
            status, body = harness.http_get(base + "/api/v1/rules")
            groups = json.loads(body)["data"]["groups"] if status == 200 else []
            evaluated = [r for g in groups for r in g["rules"] if r.get("lastEvaluation", "").startswith("2")
                         and not r["lastEvaluation"].startswith("0001")]
            return groups if len(evaluated) == 7 else None
        groups = harness.wait_for("the 7 alert rules evaluated", rules, 30)
        bad = [(r["name"], r.get("lastError")) for g in groups for r in g["rules"] if r["health"] != "ok"]
        check(not bad, f"rules failing: {bad}")

    def every_dashboard_expression_runs():
        dashboard = json.load(open(os.path.join(DEPLOY, "grafana", "wasmq.json")))
        exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
        # The stat and state panels must show data; rates over 5-10 min may be empty this early, but must parse.
        for expr in exprs:
            result = prom_query(base, expr.replace("$job", ".*"))
            if "rate(" not in expr and "increase(" not in expr and "histogram_quantile" not in expr:
                check(result, f"no data for {expr}")
        print(f"     {len(exprs)} dashboard expressions accepted")

    try:
        harness.run_checks([
            ("Prometheus reads the queue-depth series of wasmq serve back as tasks are created",
             the_queue_depth_series_follows_the_tasks),
            ("a module pull that fails shows as wasmq_module_pull_failures_total{cause=\"network\"}",
             a_failed_pull_is_counted_by_cause),
            ("deploy/prometheus/alerts.yml loads and evaluates in prometheus", the_alert_rules_load_and_evaluate),
            ("deploy/grafana/wasmq.json: every expression runs", every_dashboard_expression_runs),
        ])
    finally:
        prom.kill()
        prom.wait()
        serve.stop()
