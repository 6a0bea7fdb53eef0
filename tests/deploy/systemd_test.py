#!/usr/bin/python3
"""deploy/systemd/wasmq.service: systemd-analyze verify accepts it (with ExecStart on the built binary), it runs
`wasmq serve` as an unprivileged user with the hardening options, its state in StateDirectory matching
WASMQ_DATA_DIR, and TimeoutStopSec covers the API's stop plus WASMQ_SHUTDOWN_GRACE (the drain).

usage: systemd_test.py DEPLOY_DIR WASMQ_BINARY"""
import os
import re
import shutil
import subprocess
import sys

import harness
from harness import check

DEPLOY, WASMQ = sys.argv[1:3]
UNIT = os.path.join(DEPLOY, "systemd", "wasmq.service")
text = open(UNIT).read()
options = {}
for line in text.splitlines():
    if "=" in line and not line.lstrip().startswith(("#", "[")):
        k, v = line.split("=", 1)
        options.setdefault(k.strip(), []).append(v.strip())


def one(key):
    check(key in options, f"no {key}=")
    return options[key][-1]


def verifies():
    if not shutil.which("systemd-analyze"):
        print("     (systemd-analyze not installed: skipped)")
        return
    with harness.tempdir("unit-") as d:
        path = os.path.join(d, "wasmq.service")
        with open(path, "w") as f:
            f.write(text.replace("/usr/local/bin/wasmq", WASMQ))
        r = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True)
        check(r.returncode == 0 and not r.stderr.strip(), r.stderr)


def hardened():
    check(one("ExecStart").split()[:2] == ["/usr/local/bin/wasmq", "serve"], one("ExecStart"))
    check(one("DynamicUser") == "yes" or one("User") not in ("root", "0"), "runs as root")
    for key, want in (("ProtectSystem", "strict"), ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
                      ("PrivateDevices", "yes"), ("NoNewPrivileges", "yes"), ("RestrictSUIDSGID", "yes"),
                      ("ProtectKernelTunables", "yes"), ("ProtectKernelModules", "yes"),
                      ("ProtectControlGroups", "yes"), ("RestrictNamespaces", "yes"), ("LockPersonality", "yes")):
        check(one(key) == want, f"{key}={one(key)}, want {want}")
    check(one("CapabilityBoundingSet") == "", "capabilities kept")
    check("@system-service" in options.get("SystemCallFilter", []), "no system call filter")


def state_where_wasmq_writes():
    env = dict(kv.split("=", 1) for line in options.get("Environment", []) for kv in line.split())
    check(env.get("WASMQ_DATA_DIR") == "/var/lib/" + one("StateDirectory"), "WASMQ_DATA_DIR is not the StateDirectory")
    check(env.get("WASMQ_CACHE_DIR") == "/var/cache/" + one("CacheDirectory"), "WASMQ_CACHE_DIR is not the CacheDirectory")


def stop_timeout_covers_the_drain():
    env = dict(kv.split("=", 1) for line in options.get("Environment", []) for kv in line.split())
    grace = int(re.fullmatch(r"(\d+)s", env.get("WASMQ_SHUTDOWN_GRACE", "30s"))[1])
    check(one("KillSignal") == "SIGTERM", "KillSignal")
    check(int(one("TimeoutStopSec")) >= 10 + grace + 5, f"TimeoutStopSec {one('TimeoutStopSec')} < 10 + {grace} + 5")
    check(one("RestartPreventExitStatus") == "2", "a bad configuration (exit 2) would be restarted in a loop")


harness.run_checks([
    ("systemd-analyze verify", verifies),
    ("unprivileged and hardened", hardened),
    ("StateDirectory/CacheDirectory are WASMQ_DATA_DIR/WASMQ_CACHE_DIR", state_where_wasmq_writes),
    ("TimeoutStopSec covers the API stop and WASMQ_SHUTDOWN_GRACE", stop_timeout_covers_the_drain),
])
