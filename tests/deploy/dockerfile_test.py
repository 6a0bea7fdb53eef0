#!/usr/bin/python3
"""deploy/Dockerfile, checked without docker: two stages on Debian bookworm, the runtime on the slim image,
a non-root USER, a HEALTHCHECK on /healthz, no secret in it, the build packages named as scripts/setup
names them, and the runtime packages exactly those that hold the libraries the binary and its dlopened
modules link (readelf's NEEDED, resolved by ldd, owned per dpkg -S) plus the data and tools named.

usage: dockerfile_test.py DEPLOY_DIR SETUP_SCRIPT WASMQ_BINARY"""
import os
import re
import shlex
import subprocess
import sys

from harness import check, run_checks

DEPLOY, SETUP, WASMQ = sys.argv[1:4]
MODULES = ["wasmq-nn-opencv.so", "wasmq-face-detect.so", "wasmq-face-landmarks.so", "wasmq-jit.so"]
# In debian:bookworm-slim already (apt and libc need them), so not listed.
BASE = {"libc6", "libstdc++6", "libgcc-s1", "zlib1g"}
# Runtime packages that hold no linked library, and why.
EXTRA = {"ca-certificates": "TLS to registries, Redis and object storage", "curl": "the HEALTHCHECK",
         "opencv-data": "face-detect's cascade", "libdlib-data": "face-landmarks' model",
         "tzdata": "cron schedules' time zones (abseil reads /usr/share/zoneinfo)"}

text = open(os.path.join(DEPLOY, "Dockerfile")).read()
logical = re.sub(r"\\\n", " ", re.sub(r"^\s*#.*\n", "", text, flags=re.M))  # continuation lines joined
instructions = [(l.split(None, 1)[0].upper(), l.split(None, 1)[1] if " " in l.strip() else "")
                for l in logical.splitlines() if l.strip()]
stages = []  # (name, base, [instructions])
for op, arg in instructions:
    if op == "FROM":
        words = arg.split()
        stages.append((words[2] if len(words) > 2 and words[1].upper() == "AS" else "", words[0], []))
    elif stages:
        stages[-1][2].append((op, arg))


def apt_packages(stage):
    pkgs = []
    for op, arg in stage[2]:
        if op == "RUN" and "apt-get install" in arg:
            words = shlex.split(arg.split("apt-get install", 1)[1].split("&&")[0])
            pkgs += [w for w in words if not w.startswith("-")]
    return pkgs


def setup_packages():
    src = open(SETUP).read()
    body = src[src.index("PACKAGES=(") + len("PACKAGES=("):]
    body = body[:body.index("\n)")]
    return {w for line in body.splitlines() for w in line.split("#")[0].split()}


def owners(paths):
    """Package of each path, one dpkg call: the owner of the file it resolves to first (the library itself:
    /usr/lib/llvm-19/lib/libLLVM.so.19.1 is llvm-19-dev's link to libllvm19's file), or without /usr
    (merged-/usr systems list /lib), or the path as named."""
    variants = {p: [os.path.realpath(p), re.sub(r"^/usr", "", os.path.realpath(p)), p] for p in paths}
    r = subprocess.run(["dpkg", "-S"] + sorted({v for vs in variants.values() for v in vs}),
                       capture_output=True, text=True)
    owner_of = {}
    for line in r.stdout.splitlines():
        pkgs, path = line.split(": ", 1)
        owner_of[path] = pkgs.split(",")[0].split(":")[0]
    out = {}
    for p, vs in variants.items():
        found = [owner_of[v] for v in vs if v in owner_of]
        check(found, f"no package owns {p}")
        out[p] = found[0]
    return out


def linked_packages(files):
    paths = set()
    for f in files:
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", subprocess.run(
            ["readelf", "-d", f], capture_output=True, text=True).stdout)
        resolved = dict(re.findall(r"^\s*(\S+) => (\S+)", subprocess.run(["ldd", f], capture_output=True,
                                                                         text=True).stdout, re.M))
        check(all(n in resolved for n in needed), f"{f}: ldd cannot resolve {set(needed) - set(resolved)}")
        paths |= {resolved[n] for n in needed}
    return set(owners(paths).values())


def two_stages_on_bookworm():
    check(len(stages) == 2, f"{len(stages)} stages")
    args = dict(re.findall(r"^ARG (\w+)=(\S+)", text, re.M))
    bases = [re.sub(r"\$\{(\w+)\}", lambda m: args.get(m[1], ""), b) for _, b, _ in stages]
    check(bases == ["debian:bookworm", "debian:bookworm-slim"], f"bases {bases}")
    names = [n for n, _, _ in stages]
    runtime = stages[1][2]
    copies = [a for op, a in runtime if op == "COPY"]
    check(copies and all(a.startswith(f"--from={names[0]} ") for a in copies), f"runtime copies {copies}")
    copied = " ".join(copies)
    check("/usr/local/bin/wasmq" in copied and "/usr/local/lib/wasmq/" in copied, copied)
    build = " ".join(a for op, a in stages[0][2] if op == "RUN")
    for m in MODULES:
        check(m in build, f"{m} is not built and installed")


def runs_as_non_root():
    users = [a.strip() for op, a in stages[1][2] if op == "USER"]
    check(users, "no USER")
    user = users[-1].split(":")[0]
    check(user not in ("root", "0"), f"USER {users[-1]}")
    check(re.search(rf"useradd .*--uid {user}\b", text), f"uid {user} is not created")


def healthcheck_on_healthz():
    hc = [a for op, a in stages[1][2] if op == "HEALTHCHECK"]
    check(len(hc) == 1, "one HEALTHCHECK")
    check(re.search(r'"http://127\.0\.0\.1:8080/healthz"', hc[0]), hc[0])
    env = dict(re.findall(r"(WASMQ_\w+)=(\S+)", " ".join(a for op, a in stages[1][2] if op == "ENV")))
    check(env.get("WASMQ_ADDR", "").endswith(":8080"), f"WASMQ_ADDR {env.get('WASMQ_ADDR')} vs the healthcheck")
    check(env.get("WASMQ_ADDR", "").startswith("0.0.0.0"), "WASMQ_ADDR must listen beyond loopback in a container")


def no_secrets():
    for op, arg in instructions:
        if op in ("ENV", "ARG", "LABEL"):
            check(not re.search(r"(SECRET|PASSWORD|TOKEN|_KEY)\w*=", arg, re.I), f"{op} {arg}")
    check(not re.search(r"-----BEGIN|AKIA[0-9A-Z]{16}", text), "key material in the Dockerfile")
    ignore = open(os.path.join(DEPLOY, "Dockerfile.dockerignore")).read().split()
    for must in (".git", "build", ".env"):
        check(must in ignore, f"{must} is not in Dockerfile.dockerignore")


def build_packages_are_setups():
    wanted = set(apt_packages(stages[0]))
    missing = wanted - setup_packages()
    check(wanted and not missing, f"the build stage installs {sorted(missing)}, which scripts/setup does not name")


def runtime_packages_are_the_linked_ones():
    binary_dir = os.path.dirname(WASMQ)
    files = [WASMQ] + [os.path.join(binary_dir, m) for m in MODULES]
    for f in files:
        check(os.path.exists(f), f"{f} is not built")
    linked = linked_packages(files)
    listed = set(apt_packages(stages[1]))
    check(not (linked - BASE - listed), f"linked but not installed: {sorted(linked - BASE - listed)}")
    extra = listed - linked - set(EXTRA) - BASE
    check(not extra, f"installed but linked by nothing: {sorted(extra)}")
    check(set(EXTRA) <= listed, f"missing {sorted(set(EXTRA) - listed)}")
    data = {"opencv-data", "libdlib-data", "tzdata"}
    check(data <= setup_packages(), "the data packages are named as scripts/setup names them")
    print(f"     runtime: {' '.join(sorted(listed))}")


run_checks([
    ("two stages: debian:bookworm builds, debian:bookworm-slim runs the binary and modules", two_stages_on_bookworm),
    ("USER is not root", runs_as_non_root),
    ("HEALTHCHECK GETs /healthz on WASMQ_ADDR's port", healthcheck_on_healthz),
    ("no secrets in the Dockerfile; .git, build, .env stay out of the context", no_secrets),
    ("build packages: names from scripts/setup's PACKAGES", build_packages_are_setups),
    ("runtime packages: those holding the linked libraries, plus data and tools", runtime_packages_are_the_linked_ones),
])
