#!/usr/bin/python3
"""Workers drain on SIGTERM within the pod's grace period (deploy/k8s sets terminationGracePeriodSeconds above
WASMQ_SHUTDOWN_GRACE plus the API's 10 s): a running task either finishes or goes back to pending, never lost;
no new task is claimed once the signal came; the process is gone within the grace plus a small bound; and
`wasmq serve`'s /readyz stops answering "ready" at once, so a Service stops routing to it.

usage: drain_test.py WASMQ_BINARY SLOW_WASM"""
import os
import signal
import sys
import time

import harness
from harness import check

WASMQ, SLOW = sys.argv[1], sys.argv[2]
PIPELINES = "slow=" + SLOW
EXIT_BOUND_S = 5.0  # after the grace: the hand-back and the process's exit


def submit(workdir, store, config):
    code, out, err = harness.wasmq_cli(WASMQ, ["task", "submit", "--store", store, "--pipelines", PIPELINES,
                                              "--mode", "slow", "--max-retries", "0", "--config", config], workdir)
    check(code == 0, f"submit: {err}")
    return out.strip()


def status(workdir, store, task_id):
    return harness.task_info(WASMQ, workdir, store, task_id, PIPELINES)["status"]


# Two slots: one stays free, so a task submitted after SIGTERM would be claimed at once if claims went on.
def start_worker(workdir, store, grace):
    w = harness.Wasmq(WASMQ, ["worker", "--store", store, "--pipelines", PIPELINES, "--modes", "slow",
                              "--concurrency", "2", "--prefetch", "0", "--shutdown-grace", grace,
                              "--data-dir", os.path.join(workdir, "data")], workdir, name="worker")
    w.wait_ready()
    return w


def a_task_past_the_grace_is_handed_back():
    with harness.tempdir("drain-back-") as d:
        store = "sqlite:" + os.path.join(d, "wasmq.db")
        w = start_worker(d, store, "1s")
        try:
            long_task = submit(d, store, '{"sleep_ms": 60000}')
            harness.wait_for("the task to run", lambda: status(d, store, long_task) == "processing")
            t0 = time.monotonic()
            w.signal(signal.SIGTERM)
            # New claims stop at once: a task submitted now stays pending.
            later = submit(d, store, '{"sleep_ms": 1}')
            check(w.wait_exit(1.0 + EXIT_BOUND_S) == 0, f"exit code {w.exit_code}:\n{w.stderr()}")
            took = time.monotonic() - t0
            info = harness.task_info(WASMQ, d, store, long_task, PIPELINES)
            check(info["status"] == "pending", f"the running task is {info['status']}, not back to pending: {info}")
            check(status(d, store, later) == "pending", "a task submitted after SIGTERM was claimed")
            check("1 handed back" in w.stderr(), w.stderr())
            print(f"     SIGTERM → exit in {took:.2f} s with a 1 s grace; the task went back to pending")
        finally:
            w.stop()


def a_task_within_the_grace_finishes():
    with harness.tempdir("drain-done-") as d:
        store = "sqlite:" + os.path.join(d, "wasmq.db")
        w = start_worker(d, store, "20s")
        try:
            task = submit(d, store, '{"sleep_ms": 1500}')
            harness.wait_for("the task to run", lambda: status(d, store, task) == "processing")
            t0 = time.monotonic()
            w.signal(signal.SIGTERM)
            later = submit(d, store, '{"sleep_ms": 1}')
            check(w.wait_exit(1.5 + EXIT_BOUND_S) == 0, f"exit code {w.exit_code}:\n{w.stderr()}")
            took = time.monotonic() - t0
            check(status(d, store, task) == "done", f"the running task is {status(d, store, task)}, not done")
            check(status(d, store, later) == "pending", "a task submitted after SIGTERM was claimed")
            print(f"     SIGTERM → exit in {took:.2f} s; the running task finished (done)")
        finally:
            w.stop()


def serve_turns_not_ready_at_once():
    with harness.tempdir("drain-serve-") as d:
        port = harness.free_port()
        store = "sqlite:" + os.path.join(d, "wasmq.db")
        s = harness.Wasmq(WASMQ, ["serve", "--addr", f"127.0.0.1:{port}", "--store", store, "--pipelines",
                                  PIPELINES, "--workers", "1", "--shutdown-grace", "20s",
                                  "--data-dir", os.path.join(d, "data")], d, name="serve")
        try:
            s.wait_ready()
            url = f"http://127.0.0.1:{port}"
            check(harness.http_get(url + "/readyz")[0] == 200, "not ready before the signal")
            task = submit(d, store, '{"sleep_ms": 2000}')
            harness.wait_for("the task to run", lambda: status(d, store, task) == "processing")
            s.signal(signal.SIGTERM)
            # Within 0.5 s of the signal /readyz no longer says 200 (503, or no listener), while the task runs on.
            harness.wait_for("/readyz to stop answering 200", lambda: harness.http_get(url + "/readyz", 1.0)[0] != 200,
                             timeout=0.5, interval=0.01)
            check(status(d, store, task) == "processing", "the running task did not keep running")
            check(s.wait_exit(2.0 + 10.0 + EXIT_BOUND_S) == 0, f"exit code {s.exit_code}:\n{s.stderr()}")
            check(status(d, store, task) == "done", f"the running task is {status(d, store, task)}, not done")
        finally:
            s.stop()


harness.run_checks([
    ("worker: SIGTERM hands a task past the grace back to pending, claims nothing new, exits in time",
     a_task_past_the_grace_is_handed_back),
    ("worker: SIGTERM lets a task within the grace finish", a_task_within_the_grace_finishes),
    ("serve: SIGTERM turns /readyz not-ready at once, the running task finishes", serve_turns_not_ready_at_once),
])
