"""What the deploy tests share: the built binary run as a child process, free loopback ports, polling with
a deadline (never a fixed sleep), the rendered manifests. Paths come from the command line (CMake)."""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request


class Failure(Exception):
    pass


def check(cond, message):
    if not cond:
        raise Failure(message)


def run_checks(checks):
    """Runs each (name, fn); prints a line per check; exits 1 when one failed."""
    failed = 0
    for name, fn in checks:
        try:
            fn()
            print(f"ok   {name}")
        except Failure as e:
            failed += 1
            print(f"FAIL {name}: {e}")
    print(f"{len(checks) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


def wait_for(what, fn, timeout=20.0, interval=0.05):
    """Polls fn() until it returns a true value; fails naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise Failure(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5.0):
    """(status, body) of a GET; status 0 when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, ConnectionError, socket.timeout):
        return 0, ""


class Wasmq:
    """A long-running `wasmq serve|worker` in a temporary directory, stopped by its pid."""

    def __init__(self, binary, args, workdir, env=None, name="wasmq"):
        self.log_path = os.path.join(workdir, name + ".err")
        self.log = open(self.log_path, "w")
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("WASMQ_", "REDIS_"))}
        full_env.update({"HOME": workdir, "WASMQ_CACHE_DIR": os.path.join(workdir, "cache")})
        full_env.update(env or {})
        self.proc = subprocess.Popen([binary] + args, cwd=workdir, env=full_env, stdout=subprocess.DEVNULL,
                                     stderr=self.log, start_new_session=True)
        self.exit_code = None

    def stderr(self):
        with open(self.log_path) as f:
            return f.read()

    def wait_ready(self, timeout=30.0):
        def ready():
            if self.proc.poll() is not None:
                raise Failure(f"exited with {self.proc.returncode} before ready:\n{self.stderr()}")
            return " ready (pid " in self.stderr()
        wait_for("the 'ready' line", ready, timeout)

    def signal(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout):
        try:
            self.exit_code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Failure(f"still running {timeout}s after the signal:\n{self.stderr()}")
        return self.exit_code

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def wasmq_cli(binary, args, workdir, env=None):
    """Runs a short `wasmq` command; returns (code, stdout, stderr)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("WASMQ_", "REDIS_"))}
    full_env.update({"HOME": workdir})
    full_env.update(env or {})
    p = subprocess.run([binary] + args, cwd=workdir, env=full_env, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def task_info(binary, workdir, store, task_id, pipelines):
    code, out, err = wasmq_cli(binary, ["task", "get", "--store", store, "--pipelines", pipelines, task_id],
                               workdir)
    check(code == 0, f"task get {task_id}: {err}")
    return json.loads(out)


def tempdir(prefix):
    return tempfile.TemporaryDirectory(prefix=prefix)
