#!/usr/bin/python3
"""The Kubernetes manifests, rendered offline with `kubectl kustomize` and checked field by field against
wasmq itself: env names are settings `wasmq serve|worker --help` lists, probe paths answer 200 on a real
`wasmq serve`, probe ports are the port WASMQ_ADDR listens on, KEDA reads the list docs/queue.md names,
every container is locked down and bounded, selectors select, the grace periods cover the drain.

usage: k8s_test.py KUBECTL WASMQ_BINARY DEPLOY_DIR base|edge"""
import os
import re
import subprocess
import sys

import yaml

import harness
from harness import check

KUBECTL, WASMQ, DEPLOY, WHICH = sys.argv[1:5]
KUSTOMIZATION = os.path.join(DEPLOY, "k8s", "base" if WHICH == "base" else "overlays/" + WHICH)
# Standard variables read by libraries' conventions rather than listed by --help: the object-storage
# credentials (`--storage s3://…` takes the usual AWS variables).
EXTERNAL_ENV = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
API_STOP_S = 10  # ApiConfig::shutdown_grace: requests in flight get this long after SIGTERM

rendered = subprocess.run([KUBECTL, "kustomize", KUSTOMIZATION], capture_output=True, text=True)
if rendered.returncode != 0:
    print(f"FAIL kubectl kustomize {KUSTOMIZATION}: {rendered.stderr}")
    sys.exit(1)
objects = [o for o in yaml.safe_load_all(rendered.stdout) if o]
by_kind = {}
for o in objects:
    by_kind.setdefault(o["kind"], []).append(o)
deployments = {d["metadata"]["name"]: d for d in by_kind.get("Deployment", [])}
configmaps = {c["metadata"]["name"]: c.get("data", {}) for c in by_kind.get("ConfigMap", [])}


def settings_env_names():
    names = set()
    for command in ("serve", "worker"):
        code, out, err = harness.wasmq_cli(WASMQ, [command, "--help"], "/")
        check(code == 0, f"wasmq {command} --help: {err}")
        names |= set(re.findall(r"\[([A-Z][A-Z0-9_]+)[,\]]", out))
    return names


def duration_s(text):
    m = re.fullmatch(r"(\d+)(ms|s|m|h)", text)
    check(m, f"not a duration: {text}")
    return int(m[1]) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m[2]]


def containers():
    for name, d in deployments.items():
        for c in d["spec"]["template"]["spec"]["containers"]:
            yield name, d, c


def env_of(c):
    """The container's environment as Kubernetes builds it: envFrom ConfigMaps, then env (values or refs)."""
    env = {}
    for src in c.get("envFrom", []):
        check("configMapRef" in src, f"envFrom other than a ConfigMap: {src}")
        env.update(configmaps[src["configMapRef"]["name"]])
    for e in c.get("env", []):
        env[e["name"]] = e.get("value", e.get("valueFrom"))
    return env


def selects(selector, labels):
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def pods_selected(selector):
    return [n for n, d in deployments.items() if selects(selector, d["spec"]["template"]["metadata"]["labels"])]


def every_env_name_is_a_setting():
    known = settings_env_names() | EXTERNAL_ENV
    for name, _, c in containers():
        unknown = set(env_of(c)) - known
        check(not unknown, f"{name}: {sorted(unknown)} are not wasmq settings")


def secrets_are_references():
    for name, _, c in containers():
        for e in c.get("env", []):
            if re.search(r"SECRET|PASSWORD|TOKEN|KEY", e["name"]):
                check("value" not in e and "secretKeyRef" in e.get("valueFrom", {}),
                      f"{name}: {e['name']} must come from a Secret")
                check(e["valueFrom"]["secretKeyRef"]["name"] == "wasmq-secrets", f"{name}: {e['name']}")
    for cm in configmaps.values():
        for k in cm:
            check(not re.search(r"SECRET|PASSWORD|TOKEN", k), f"ConfigMap holds {k}")
    check("Secret" not in by_kind, "a Secret object is shipped")


def locked_down_and_bounded():
    check(deployments, "no Deployment rendered")
    for name, d, c in containers():
        pod = d["spec"]["template"]["spec"]
        psc, sc = pod.get("securityContext", {}), c.get("securityContext", {})
        check(psc.get("runAsNonRoot") is True and psc.get("runAsUser", 0) != 0, f"{name}: pod runs as root")
        check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{name}: seccomp")
        check(pod.get("automountServiceAccountToken") is False, f"{name}: service account token mounted")
        check(sc.get("allowPrivilegeEscalation") is False, f"{name}: privilege escalation")
        check(sc.get("readOnlyRootFilesystem") is True, f"{name}: writable root")
        check(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{name}: capabilities")
        check(not sc.get("privileged"), f"{name}: privileged")
        for kind in ("requests", "limits"):
            r = c.get("resources", {}).get(kind, {})
            check("cpu" in r and "memory" in r, f"{name}: resources.{kind} needs cpu and memory")
        # What wasmq writes is on a volume: its data and cache directories and /tmp.
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
        env = env_of(c)
        for path in (env.get("WASMQ_DATA_DIR"), env.get("WASMQ_CACHE_DIR"), "/tmp"):
            check(path in mounts, f"{name}: {path} is not a mounted volume (the root is read-only)")
        volumes = {v["name"]: v for v in pod["volumes"]}
        for path, vol in mounts.items():
            check("emptyDir" in volumes[vol] or "persistentVolumeClaim" in volumes[vol], f"{name}: {path}")


def one_image():
    images = {c["image"] for _, _, c in containers()}
    check(len(images) == 1, f"containers run different images: {images}")
    want = set()
    for root, _, files in os.walk(os.path.join(DEPLOY, "k8s")):
        if "kustomization.yaml" in files:
            k = yaml.safe_load(open(os.path.join(root, "kustomization.yaml")))
            want |= {f"{i['newName']}:{i['newTag']}" for i in k.get("images", []) if i["name"] == "wasmq"}
    check(images == want, f"{images} is not what the kustomizations' images: set, {want}")


LIVE = {"metrics": ""}  # /metrics of the `wasmq serve` probes_match_the_server starts (it runs first)


def serve_containers():
    return [(n, d, c) for n, d, c in containers() if c.get("args", [None])[0] == "serve"]


def probes_match_the_server():
    serving = serve_containers()
    check(serving, "no `wasmq serve` container")
    # A real `wasmq serve` answers every probe path with 200.
    with harness.tempdir("k8s-probes-") as d:
        port = harness.free_port()
        s = harness.Wasmq(WASMQ, ["serve", "--addr", f"127.0.0.1:{port}", "--workers", "0", "--pipelines", "",
                                  "--data-dir", os.path.join(d, "data")], d)
        try:
            s.wait_ready()
            for name, _, c in serving:
                ports = {p["name"]: p["containerPort"] for p in c["ports"]}
                addr_port = int(env_of(c)["WASMQ_ADDR"].rsplit(":", 1)[1])
                for kind, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"),
                                   ("startupProbe", "/healthz")):
                    probe = c.get(kind)
                    check(probe, f"{name}: no {kind}")
                    get = probe["httpGet"]
                    check(get["path"] == path, f"{name}: {kind} on {get['path']}, not {path}")
                    p = ports.get(get["port"], get["port"])
                    check(p == addr_port, f"{name}: {kind} port {p} is not WASMQ_ADDR's {addr_port}")
                    status, body = harness.http_get(f"http://127.0.0.1:{port}{path}")
                    check(status == 200, f"GET {path} on wasmq serve: {status} {body}")
                metrics_addr = env_of(c).get("WASMQ_METRICS_ADDR")
                if metrics_addr:
                    check(ports.get("metrics") == int(metrics_addr.rsplit(":", 1)[1]), f"{name}: metrics port")
            LIVE["metrics"] = harness.http_get(f"http://127.0.0.1:{port}/metrics")[1]
        finally:
            s.stop()


def grace_covers_the_drain():
    for name, d, c in containers():
        pod = d["spec"]["template"]["spec"]
        tgps = pod.get("terminationGracePeriodSeconds", 30)
        env = env_of(c)
        args = c.get("args", [])
        pre_stop = c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
        runs_tasks = args[0] == "worker" or (args[0] == "serve" and env.get("WASMQ_WORKERS") != "0"
                                              and args[1:3] != ["--workers", "0"])
        grace = duration_s(env.get("WASMQ_SHUTDOWN_GRACE", "30s")) if runs_tasks else 0
        need = pre_stop + (API_STOP_S if args[0] == "serve" else 0) + grace + 5
        check(tgps >= need, f"{name}: terminationGracePeriodSeconds {tgps} < {need} "
                            f"(preStop {pre_stop} + API {API_STOP_S if args[0] == 'serve' else 0} + drain {grace} + 5)")


def selectors_select():
    for svc in by_kind.get("Service", []):
        pods = pods_selected({"matchLabels": svc["spec"]["selector"]})
        check(pods, f"Service {svc['metadata']['name']} selects no pods")
        for port in svc["spec"]["ports"]:
            for p in pods:
                names = {cp["name"] for c in deployments[p]["spec"]["template"]["spec"]["containers"]
                         for cp in c.get("ports", [])}
                check(port["targetPort"] in names, f"Service port {port['targetPort']} not on {p}")
    for kind in ("PodDisruptionBudget", "NetworkPolicy"):
        for o in by_kind.get(kind, []):
            sel = o["spec"]["selector" if kind == "PodDisruptionBudget" else "podSelector"]
            check(pods_selected(sel), f"{kind} {o['metadata']['name']} selects no pods")
    for name, d in deployments.items():
        check(selects(d["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"]), f"{name} selector")


def autoscaling_targets():
    for hpa in by_kind.get("HorizontalPodAutoscaler", []):
        target = hpa["spec"]["scaleTargetRef"]["name"]
        check(target in deployments, f"HPA scales {target}, not rendered")
        check(deployments[target]["spec"]["template"]["spec"]["containers"][0]["args"][0] == "serve", "HPA target")
    for so in by_kind.get("ScaledObject", []):
        target = so["spec"]["scaleTargetRef"]["name"]
        check(target in deployments, f"ScaledObject scales {target}, not rendered")
        c = deployments[target]["spec"]["template"]["spec"]["containers"][0]
        check(c["args"][0] == "worker", f"ScaledObject scales {c['args']}, not `wasmq worker`")
        check(so["spec"]["minReplicaCount"] == 0, "workers do not scale to zero")
        env = env_of(c)
        kinds = {t["type"]: t["metadata"] for t in so["spec"]["triggers"]}
        redis = kinds.get("redis")
        check(redis, "no redis trigger")
        prefix = env.get("WASMQ_REDIS_PREFIX", "wasmq")
        check(redis["listName"] == prefix + ":task:queue", f"listName {redis['listName']} is not {prefix}:task:queue")
        check(redis.get("databaseIndex", "0") == env.get("REDIS_DB", "0"), "databaseIndex is not REDIS_DB")
        for key in ("hostFromEnv", "portFromEnv", "passwordFromEnv"):
            check(redis[key] in env, f"{key} names {redis[key]}, not in the worker's environment")
        if "prometheus" in kinds:
            metrics = set(re.findall(r"wasmq_[a-z_]+", kinds["prometheus"]["query"]))
            exported = set(re.findall(r"^# TYPE (\S+)", LIVE["metrics"], re.M))
            check(metrics <= exported, f"the query names {metrics - exported}, which /metrics does not export")


def the_edge_box():
    if WHICH != "edge":
        check(len(deployments) == 2 and "ScaledObject" in by_kind and "HorizontalPodAutoscaler" in by_kind,
              "base: API and worker Deployments, an HPA and a ScaledObject")
        return
    check(list(deployments) == ["wasmq-api"], f"edge runs one Deployment, not {list(deployments)}")
    d = deployments["wasmq-api"]
    check(d["spec"]["replicas"] == 1 and d["spec"]["strategy"] == {"type": "Recreate"}, "one replica, Recreate")
    check(not {"ScaledObject", "HorizontalPodAutoscaler", "PodDisruptionBudget"} & set(by_kind), "fleet objects left")
    c = d["spec"]["template"]["spec"]["containers"][0]
    check(c["args"] == ["serve"], f"edge runs {c['args']}, not a serve with workers")
    env = env_of(c)
    check(not any(k.startswith("REDIS_") and k != "REDIS_PASSWORD" for k in env), "Redis settings left")
    store = env.get("WASMQ_STORE", "")
    check(store.startswith("sqlite:"), f"store {store}")
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    vols = {v["name"]: v for v in d["spec"]["template"]["spec"]["volumes"]}
    data = [p for p in mounts if store[len("sqlite:"):].startswith(p + "/")]
    check(data, f"{store} is on no volume")
    claim = vols[mounts[data[0]]].get("persistentVolumeClaim", {}).get("claimName")
    check(claim in {p["metadata"]["name"] for p in by_kind.get("PersistentVolumeClaim", [])},
          f"the store's volume is not the overlay's PersistentVolumeClaim ({vols[mounts[data[0]]]})")
    check(set(vols[mounts[data[0]]]) == {"name", "persistentVolumeClaim"}, "the data volume is also an emptyDir")


harness.run_checks([
    ("every environment variable is a wasmq setting", every_env_name_is_a_setting),
    ("secrets come from Secret references only", secrets_are_references),
    ("every container: non-root, read-only root, no privileges, seccomp, resources, volumes", locked_down_and_bounded),
    ("one image everywhere", one_image),
    ("probes: /healthz and /readyz on WASMQ_ADDR's port, 200 on a real wasmq serve", probes_match_the_server),
    ("terminationGracePeriodSeconds covers preStop + API stop + WASMQ_SHUTDOWN_GRACE", grace_covers_the_drain),
    ("Service, PDB, NetworkPolicy selectors select pods", selectors_select),
    ("HPA on the API, KEDA on the workers' queue list, to zero", autoscaling_targets),
    (f"{WHICH}: the objects it must have", the_edge_box),
])
