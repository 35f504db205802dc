#!/usr/bin/env bash
# Offline check of the Helm chart helm/ec2-grpc: no cluster, no helm binary, no network beyond
# PyPI for the first install. Run from anywhere: `bash scripts/check-helm.sh`.
#
# Tools, installed into the project venv .venv (idempotent: a second run installs nothing):
#   helm-python-sdk      Helm's own Go SDK (v4) through a C ABI, bundled in the wheel: the same
#                        linter and template engine as `helm lint --strict` / `helm template`.
#   kubernetes-validate  JSON schemas of the Kubernetes API, per version; --strict variant
#                        rejects unknown fields.
#
# Checks:
#   1-2  helm lint --strict (kube version 1.30) with default values and ci/all-on-values.yaml
#   3-4  render (helm template) with both values files; the expected kinds are present
#   5-6  every rendered manifest validates against the Kubernetes 1.30 strict schemas. The only
#        kind allowed without a schema is the ServiceMonitor (monitoring.coreos.com/v1), a
#        prometheus-operator CRD that no Kubernetes schema covers; any other unknown kind fails.
#   7    default Deployment: gRPC liveness + readiness probes on a numeric port, runAsNonRoot,
#        readOnlyRootFilesystem, drop ALL, seccomp RuntimeDefault, no privilege escalation,
#        command set (the image's CMD flags would override the ConfigMap), grace period
#   8    all-on render: IRSA role annotation on the ServiceAccount
#   9    guards: the values schema rejects a bad logFormat; the render refuses a
#        terminationGracePeriodSeconds not above the shutdown grace
#   10   all-on render: TLS and client-CA Secrets mounted read-only, EC2_GRPC_TLS_CERT_FILE,
#        _TLS_KEY_FILE and _AUTH_CLIENT_CA_FILE point into them, EC2_GRPC_AUTH_JWKS_URL (+ refresh,
#        reflection credentials) set, no protected-mode acknowledgement, tcpSocket probes
#   11   render with auth.jwksSecret and auth.clientCaSecret = tls.secretName: JWKS file from its
#        Secret, client CA read from the TLS Secret's mount (no second volume); strict schemas
#   12   auth guards: the render refuses auth.clientCaSecret without tls.secretName, auth.jwksSecret
#        with auth.jwksUrl, and reflectionRequiresCredentials without authentication; the values
#        schema rejects a non-https jwksUrl
#   13   EC2 budget without Redis: config.ec2BudgetShare (1.0) divided by the most replicas that
#        may run: "0.5" for the default 2 replicas, "0.25" under autoscaling with maxReplicas 4;
#        no Redis setting anywhere; NOTES state the per-replica share
#   14   EC2 budget through Redis (budget.redis.urlSecret + passwordSecret): share "1" as is,
#        EC2_GRPC_EC2_BUDGET_REDIS_URL from the Secret through secretKeyRef and in no ConfigMap,
#        the password file from a read-only mount of only that key (EC2_GRPC_EC2_BUDGET_REDIS_
#        PASSWORD_FILE); without passwordSecret no volume and no password file; strict schemas;
#        all-on render: share, key, timeout, lease and floor from ci/all-on-values.yaml
#   15   budget guards: the render refuses budget.redis.passwordSecret or budget.redis.key without
#        urlSecret; the values schema rejects lease 0, timeoutMs 0, replicasFloor 0 and a bad key
#   16   accounts file: all-on render: ConfigMap <fullname>-accounts holds `accounts` as
#        accounts.toml (valid TOML: two accounts, one with external_id, one a role chain),
#        mounted read-only as a whole directory (no subPath, so edits reach the pod),
#        EC2_GRPC_ACCOUNTS_FILE points into the mount; the roles file has a [targets] table.
#        Default render: no accounts ConfigMap, volume or EC2_GRPC_ACCOUNTS_FILE
#   17   ConfigMap files without any Secret: accounts alone (no authentication) and auth.jwksUrl
#        with auth.roles each get their read-only ConfigMap mount (the roles file was named but
#        not mounted with jwksUrl alone); NOTES warn that without a roles file every caller
#        reaches every account; strict schemas
#   18   memory from inventory.expectedInstances: 100000 renders request 309Mi and limit 387Mi
#        (64Mi + ceil(2.5 KiB x n), limit ceil(1.25 x request), above 256Mi), NOTES state the
#        formula; default render 64Mi / 256Mi; all-on render from its expectedInstances; an
#        explicit limit or request wins (a filled-in request is capped at a given limit, a
#        filled-in limit raised to a given request), a given request above a given limit is
#        refused; the schema rejects a negative expectedInstances; strict schemas
#   19   preflight, default render: init container `check` with the gateway's image, command
#        and securityContext (hardened), args ending in `check` without `--aws`, the same env
#        var names, envFrom and volumeMounts as the gateway's container, no ports, no probes,
#        small resources (requests 50m / 64Mi, memory limit 128Mi); NOTES name `-c check`
#   20   preflight, all-on render (preflight.aws): args end in `check --aws`; env (the Redis URL
#        through secretKeyRef, extraEnv), envFrom and every Secret, ConfigMap and extra mount the
#        same as the gateway's container
#   21   preflight off and guards: preflight.enabled false renders no init container;
#        extraArgs follow the subcommand; a gateway memory limit below 128Mi caps the check's;
#        the schema rejects a non-boolean preflight.aws and an unknown preflight key; strict
#        schemas
#   22   audit trail: audit.enabled with a policy and audit.required renders EC2_GRPC_AUDIT_LOG
#        "-", EC2_GRPC_AUDIT_REQUIRED "true" and EC2_GRPC_AUDIT_POLICY_FILE pointing into a
#        read-only directory mount (no subPath) of ConfigMap <fullname>-audit (policy.toml, valid
#        TOML), no audit-log volume; audit.log=/var/log/ec2-grpc/audit.jsonl mounts volume
#        audit-log (an emptyDir, or audit.volume when set) writable at /var/log/ec2-grpc under the
#        read-only root filesystem, no policy file; the preflight check mounts the same; the
#        schema rejects a relative audit.log and a named audit.volume, the render a log file
#        directly under /; default render: no EC2_GRPC_AUDIT_* variable; strict schemas
# Prints one line per check and `helm: N passed, M failed`; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

HELM_PYTHON_SDK_VERSION="0.2.2"      # bundles helm-c 0.2.2 over the Helm v4.2.3 Go SDK
KUBERNETES_VALIDATE_VERSION="1.37.0" # ships schemas for Kubernetes 1.25 ... 1.37
KUBE_VERSION="1.30"

if [ ! -x .venv/bin/python ]; then
  echo "check-helm: creating .venv" >&2
  python3 -m venv .venv
fi
if ! .venv/bin/python - "$HELM_PYTHON_SDK_VERSION" "$KUBERNETES_VALIDATE_VERSION" <<'PY' 2>/dev/null; then
import sys
from importlib.metadata import version
ok = (version("helm-python-sdk") == sys.argv[1]
      and version("kubernetes-validate") == sys.argv[2])
import helm_python, kubernetes_validate.utils, yaml  # noqa: E401,F401  importable too
sys.exit(0 if ok else 1)
PY
  echo "check-helm: installing helm-python-sdk ${HELM_PYTHON_SDK_VERSION} and kubernetes-validate ${KUBERNETES_VALIDATE_VERSION} into .venv" >&2
  .venv/bin/pip install --quiet --disable-pip-version-check \
    "helm-python-sdk==${HELM_PYTHON_SDK_VERSION}" \
    "kubernetes-validate==${KUBERNETES_VALIDATE_VERSION}" >&2
fi

CHART=helm/ec2-grpc ALL_ON=helm/ec2-grpc/ci/all-on-values.yaml KUBE_VERSION="$KUBE_VERSION" \
  exec .venv/bin/python - <<'PY'
import os
import sys

import yaml
import helm_python as helm
import kubernetes_validate.utils as kv

CHART = os.environ["CHART"]
ALL_ON = os.environ["ALL_ON"]
KUBE = os.environ["KUBE_VERSION"]
RELEASE, NAMESPACE = "ec2-grpc", "ec2-grpc"
# Kinds that are custom resources: no Kubernetes schema exists for them, so they are skipped
# by name. Anything else without a schema is a failure.
CRD_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}

results = []


def check(name, fn):
    try:
        detail = fn()
        results.append(True)
        print(f"ok   {len(results)} {name}: {detail}")
    except Exception as exc:  # any failure of a check is reported, not raised
        results.append(False)
        text = " ".join(str(exc).split())
        print(f"FAIL {len(results)} {name}: {type(exc).__name__}: {text}")


def need(cond, message):
    if not cond:
        raise AssertionError(message)


def load_values(path):
    if path is None:
        return None
    with open(path) as f:
        return helm.values_from_yaml(f.read())


def lint(path):
    report = helm.lint(CHART, load_values(path), strict=True, kube_version=f"v{KUBE}.0")
    bad = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
    need(report["total_charts_linted"] == 1, f"linted {report['total_charts_linted']} charts")
    need(not bad, f"findings: {bad}")
    info = sum(1 for m in report["messages"] if m["severity"] < 2)
    return f"no warnings or errors ({info} info message(s))"


rendered = {}
notes = {}


def schema_rejects(chart, values, field):
    """The values schema refuses `values`, naming `field`."""
    try:
        chart.validate_schema(values)
    except helm.HelmValuesError as exc:
        need(field in str(exc), f"schema rejected something else: {exc}")
    else:
        raise AssertionError(f"values schema accepted {values}")


def render(label, path, expected_kinds, overrides=None):
    values = load_values(path) if overrides is None else overrides
    with helm.Chart.load(CHART) as chart:
        chart.validate_schema(values)
        out = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    docs = []
    for template, text in sorted(out.items()):
        if template.endswith("NOTES.txt"):
            notes[label] = " ".join(text.split())
            continue
        if not text.strip():
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                docs.append((template, doc))
    rendered[label] = docs
    kinds = sorted(d["kind"] for _, d in docs)
    missing = set(expected_kinds) - set(kinds)
    need(not missing, f"missing kinds {sorted(missing)}; rendered {kinds}")
    return f"{len(docs)} manifests: {', '.join(kinds)}"


def validate(label):
    docs = rendered.get(label)
    need(docs, f"nothing rendered for {label}")
    checked, skipped = 0, []
    for template, doc in docs:
        if (doc.get("apiVersion"), doc.get("kind")) in CRD_KINDS:
            skipped.append(doc["kind"])
            continue
        try:
            version = kv.validate(doc, KUBE, strict=True)
        except kv.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            raise AssertionError(f"{template} {doc['kind']}: {path}: {exc.message}") from None
        except kv.SchemaNotFoundError as exc:
            raise AssertionError(f"{template}: {exc.message}") from None
        need(version == KUBE, f"validated against {version}, not {KUBE}")
        checked += 1
    note = f"; skipped CRD kind(s) without a Kubernetes schema: {', '.join(skipped)}" if skipped else ""
    return f"{checked} manifests valid against Kubernetes {KUBE} (strict){note}"


def one(label, kind):
    found = [d for _, d in rendered.get(label, []) if d["kind"] == kind]
    need(len(found) == 1, f"{len(found)} {kind} manifests in the {label} render")
    return found[0]


def deployment_hardening():
    dep = one("default", "Deployment")
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    for probe_name in ("livenessProbe", "readinessProbe"):
        probe = c.get(probe_name) or {}
        grpc = probe.get("grpc")
        need(grpc is not None, f"{probe_name} is not a grpc probe: {probe}")
        need(type(grpc.get("port")) is int, f"{probe_name}.grpc.port is not a number: {grpc}")
        need(grpc["port"] in [p["containerPort"] for p in c["ports"]],
             f"{probe_name} port {grpc['port']} is not a container port")
    psc, csc = pod.get("securityContext", {}), c.get("securityContext", {})
    need(psc.get("runAsNonRoot") is True, "pod runAsNonRoot is not true")
    need(psc.get("runAsUser") == 65532, "pod runAsUser is not 65532")
    need(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", "seccomp not RuntimeDefault")
    need(csc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem is not true")
    need(csc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation is not false")
    need(csc.get("capabilities", {}).get("drop") == ["ALL"], "capabilities do not drop ALL")
    need(c.get("command") == ["/ec2-grpc"], f"command is {c.get('command')}")
    cm = one("default", "ConfigMap")["data"]
    need(cm["EC2_GRPC_LISTEN"] == "0.0.0.0:50051", f"listen is {cm['EC2_GRPC_LISTEN']}")
    need(cm["EC2_GRPC_ALLOW_UNAUTHENTICATED"] == "true", "protected mode not acknowledged")
    need(cm["EC2_GRPC_LOG_FORMAT"] == "json", "log format is not json")
    grace = int(cm["EC2_GRPC_SHUTDOWN_GRACE_SECONDS"])
    need(pod["terminationGracePeriodSeconds"] > grace,
         f"terminationGracePeriodSeconds {pod['terminationGracePeriodSeconds']} <= shutdown grace {grace}")
    need(dep["spec"]["replicas"] == 2, f"replicas is {dep['spec'].get('replicas')}")
    (port,) = [p for p in one("default", "Service")["spec"]["ports"] if p["name"] == "grpc"]
    need(port.get("appProtocol") == "grpc", "Service port lacks appProtocol grpc")
    return (f"grpc probes on port {c['livenessProbe']['grpc']['port']}, non-root 65532, read-only "
            f"root, drop ALL, seccomp RuntimeDefault, no privilege escalation, "
            f"grace {pod['terminationGracePeriodSeconds']}s > {grace}s")


def irsa():
    sa = one("all-on", "ServiceAccount")
    role = (sa["metadata"].get("annotations") or {}).get("eks.amazonaws.com/role-arn")
    need(role == "arn:aws:iam::123456789012:role/ec2-grpc", f"role-arn annotation is {role!r}")
    dep = one("all-on", "Deployment")
    need(dep["spec"]["template"]["spec"]["serviceAccountName"] == sa["metadata"]["name"],
         "the Deployment does not use the ServiceAccount")
    return f"ServiceAccount {sa['metadata']['name']} carries eks.amazonaws.com/role-arn={role}"


def guards():
    with helm.Chart.load(CHART) as chart:
        schema_rejects(chart, {"config": {"logFormat": "xml"}}, "logFormat")
        try:
            chart.render({"terminationGracePeriodSeconds": 30}, name=RELEASE, namespace=NAMESPACE)
        except helm.HelmRenderError as exc:
            need("must exceed config.shutdownGraceSeconds" in str(exc), f"render failed otherwise: {exc}")
        else:
            raise AssertionError("render accepted terminationGracePeriodSeconds == shutdown grace")
    return "schema rejects logFormat=xml; render refuses grace period <= shutdown grace"


def settings(label):
    """The data of the ConfigMap the container takes its environment from (envFrom)."""
    (c,) = one(label, "Deployment")["spec"]["template"]["spec"]["containers"]
    (ref,) = [e["configMapRef"]["name"] for e in c.get("envFrom", []) if "configMapRef" in e]
    found = [d for _, d in rendered[label] if d["kind"] == "ConfigMap" and d["metadata"]["name"] == ref]
    need(len(found) == 1, f"{len(found)} ConfigMaps named {ref} in the {label} render")
    return found[0]["data"]


def secret_file(label, env):
    """The (Secret, key) that the file named by the ConfigMap's `env` comes from, read-only."""
    dep = one(label, "Deployment")
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    path = settings(label).get(env)
    need(path, f"{env} is not set")
    mounts = [m for m in c.get("volumeMounts", []) if path.startswith(m["mountPath"].rstrip("/") + "/")]
    need(len(mounts) == 1, f"{env}={path} is under {len(mounts)} volume mounts")
    (m,) = mounts
    need(m.get("readOnly") is True, f"mount {m['name']} is not read-only")
    (vol,) = [v for v in pod["volumes"] if v["name"] == m["name"]]
    need("secret" in vol, f"volume {vol['name']} is not a Secret")
    return vol["secret"]["secretName"], path[len(m["mountPath"].rstrip("/")) + 1:]


def tcp_probes(label):
    (c,) = one(label, "Deployment")["spec"]["template"]["spec"]["containers"]
    for probe_name in ("livenessProbe", "readinessProbe"):
        probe = c.get(probe_name) or {}
        need("grpc" not in probe, f"{probe_name} is still a grpc probe under TLS")
        tcp = probe.get("tcpSocket")
        need(tcp is not None, f"{probe_name} is not a tcpSocket probe: {probe}")
        need(tcp.get("port") in [p["containerPort"] for p in c["ports"]],
             f"{probe_name} port {tcp.get('port')} is not a container port")
    return c["livenessProbe"]["tcpSocket"]["port"]


def tls_all_on():
    values = yaml.safe_load(open(ALL_ON))
    cm = settings("all-on")
    tls = values["tls"]["secretName"]
    need(secret_file("all-on", "EC2_GRPC_TLS_CERT_FILE") == (tls, "tls.crt"), "cert file is not tls.crt of the TLS Secret")
    need(secret_file("all-on", "EC2_GRPC_TLS_KEY_FILE") == (tls, "tls.key"), "key file is not tls.key of the TLS Secret")
    ca = secret_file("all-on", "EC2_GRPC_AUTH_CLIENT_CA_FILE")
    need(ca == (values["auth"]["clientCaSecret"], "ca.crt"), f"client CA file comes from {ca}")
    need(cm.get("EC2_GRPC_AUTH_JWKS_URL") == values["auth"]["jwksUrl"], "EC2_GRPC_AUTH_JWKS_URL is not auth.jwksUrl")
    need(cm.get("EC2_GRPC_AUTH_JWKS_REFRESH_SECS") == str(values["auth"]["jwksRefreshSeconds"]),
         f"EC2_GRPC_AUTH_JWKS_REFRESH_SECS is {cm.get('EC2_GRPC_AUTH_JWKS_REFRESH_SECS')!r}")
    need("EC2_GRPC_AUTH_JWKS_FILE" not in cm, "EC2_GRPC_AUTH_JWKS_FILE set together with the URL")
    need(cm.get("EC2_GRPC_AUTH_REFLECTION_REQUIRES_CREDENTIALS") == "true", "reflection credentials not required")
    need("EC2_GRPC_ALLOW_UNAUTHENTICATED" not in cm, "protected mode acknowledged despite authentication")
    port = tcp_probes("all-on")
    return (f"Secret {tls} (tls.crt, tls.key) and {ca[0]} (ca.crt) mounted read-only, JWKS URL, "
            f"reflection needs credentials, tcpSocket probes on port {port}")


def jwks_secret_same_ca():
    overrides = {"tls": {"secretName": "ec2-grpc-tls"},
                 "auth": {"jwksSecret": "ec2-grpc-jwks", "clientCaSecret": "ec2-grpc-tls",
                          "jwtIssuer": "https://oidc.example.com"}}
    render("jwks-secret", None, BASE, overrides)
    validate("jwks-secret")
    cm = settings("jwks-secret")
    need(secret_file("jwks-secret", "EC2_GRPC_AUTH_JWKS_FILE") == ("ec2-grpc-jwks", "jwks.json"),
         "JWKS file is not jwks.json of auth.jwksSecret")
    need(secret_file("jwks-secret", "EC2_GRPC_AUTH_CLIENT_CA_FILE") == ("ec2-grpc-tls", "ca.crt"),
         "client CA file is not ca.crt of the TLS Secret")
    need(cm.get("EC2_GRPC_AUTH_JWT_ISSUER") == "https://oidc.example.com", "JWT issuer not set")
    need("EC2_GRPC_AUTH_JWKS_URL" not in cm, "EC2_GRPC_AUTH_JWKS_URL set together with the file")
    need("EC2_GRPC_ALLOW_UNAUTHENTICATED" not in cm, "protected mode acknowledged despite authentication")
    vols = one("jwks-secret", "Deployment")["spec"]["template"]["spec"]["volumes"]
    tls_vols = [v["name"] for v in vols if v.get("secret", {}).get("secretName") == "ec2-grpc-tls"]
    need(tls_vols == ["tls"], f"volumes of the TLS Secret: {tls_vols}")
    tcp_probes("jwks-secret")
    return "JWKS file from its Secret, client CA from the TLS Secret's one mount, strict schemas valid"


def auth_guards():
    refused = {
        "auth.clientCaSecret needs tls.secretName": {"auth": {"clientCaSecret": "ec2-grpc-ca"}},
        "auth.jwksSecret and auth.jwksUrl conflict": {
            "tls": {"secretName": "ec2-grpc-tls"},
            "auth": {"jwksSecret": "ec2-grpc-jwks", "jwksUrl": "https://oidc.example.com/jwks"}},
        "auth.reflectionRequiresCredentials needs caller authentication": {
            "auth": {"reflectionRequiresCredentials": True}},
    }
    with helm.Chart.load(CHART) as chart:
        for message, values in refused.items():
            try:
                chart.render(values, name=RELEASE, namespace=NAMESPACE)
            except helm.HelmRenderError as exc:
                need(message in str(exc), f"render failed otherwise: {exc}")
            else:
                raise AssertionError(f"render accepted {values} (expected: {message})")
        schema_rejects(chart, {"auth": {"jwksUrl": "http://oidc.example.com/jwks"}}, "jwksUrl")
    return ("render refuses clientCaSecret without TLS, jwksSecret with jwksUrl, reflection "
            "credentials without auth; schema rejects an http jwksUrl")


def budget_env(label):
    """The EC2_GRPC_EC2_BUDGET_* settings: the ConfigMap's, and the container's own env."""
    (c,) = one(label, "Deployment")["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in c.get("env", []) if e["name"].startswith("EC2_GRPC_EC2_BUDGET_")}
    cm = {k: v for k, v in settings(label).items() if k.startswith("EC2_GRPC_EC2_BUDGET_")}
    return cm, env


def redis_url_from_secret(label, name, key):
    cm, env = budget_env(label)
    url = env.get("EC2_GRPC_EC2_BUDGET_REDIS_URL")
    need(url is not None, "EC2_GRPC_EC2_BUDGET_REDIS_URL is not in the container's env")
    need("value" not in url, f"EC2_GRPC_EC2_BUDGET_REDIS_URL has a literal value: {url}")
    ref = url.get("valueFrom", {}).get("secretKeyRef")
    need(ref == {"name": name, "key": key}, f"EC2_GRPC_EC2_BUDGET_REDIS_URL comes from {url.get('valueFrom')}")
    for _, doc in rendered[label]:
        if doc["kind"] == "ConfigMap":
            need("EC2_GRPC_EC2_BUDGET_REDIS_URL" not in (doc.get("data") or {}),
                 f"EC2_GRPC_EC2_BUDGET_REDIS_URL in ConfigMap {doc['metadata']['name']}")
    return cm


def password_volume(label, secret, key):
    """The password file comes from a read-only mount of only `key` of `secret`, mode 0440."""
    need(secret_file(label, "EC2_GRPC_EC2_BUDGET_REDIS_PASSWORD_FILE") == (secret, key),
         f"password file is not {key} of Secret {secret}")
    vols = one(label, "Deployment")["spec"]["template"]["spec"]["volumes"]
    (vol,) = [v for v in vols if v["name"] == "budget-redis-password"]
    need(vol["secret"].get("items") == [{"key": key, "path": key}],
         f"the password volume projects {vol['secret'].get('items')}, not only {key}")
    need(vol["secret"].get("defaultMode") == 0o440, f"defaultMode is {vol['secret'].get('defaultMode')}")


def budget_without_redis():
    cm, env = budget_env("default")
    need(cm == {"EC2_GRPC_EC2_BUDGET_SHARE": "0.5"}, f"default budget settings: {cm}")
    need(not env, f"budget env in the container: {sorted(env)}")
    need("share / 2 = 0.5" in notes.get("default", ""), "NOTES do not state share / 2 = 0.5")
    render("hpa-4", None, BASE + ["HorizontalPodAutoscaler"],
           {"autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 4}})
    cm, env = budget_env("hpa-4")
    need(cm == {"EC2_GRPC_EC2_BUDGET_SHARE": "0.25"}, f"budget settings with maxReplicas 4: {cm}")
    need(not env, f"budget env in the container: {sorted(env)}")
    need("share / 4 = 0.25" in notes.get("hpa-4", ""), "NOTES do not state share / 4 = 0.25")
    return "share 0.5 (1.0 / 2 replicas), 0.25 (1.0 / maxReplicas 4), no Redis settings"


def budget_with_redis():
    overrides = {"budget": {"redis": {"urlSecret": {"name": "ec2-grpc-redis", "key": "url"},
                                      "passwordSecret": {"name": "ec2-grpc-redis", "key": "password"}}}}
    render("redis", None, BASE, overrides)
    validate("redis")
    cm = redis_url_from_secret("redis", "ec2-grpc-redis", "url")
    need(cm.get("EC2_GRPC_EC2_BUDGET_SHARE") == "1", f"share is {cm.get('EC2_GRPC_EC2_BUDGET_SHARE')!r}, not \"1\"")
    password_volume("redis", "ec2-grpc-redis", "password")
    need(cm.get("EC2_GRPC_EC2_BUDGET_REDIS_PASSWORD_FILE") == "/etc/ec2-grpc/budget/redis/password",
         f"password file is {cm.get('EC2_GRPC_EC2_BUDGET_REDIS_PASSWORD_FILE')!r}")
    defaults = {"EC2_GRPC_EC2_BUDGET_REDIS_TIMEOUT_MS": "50", "EC2_GRPC_EC2_BUDGET_LEASE": "4",
                "EC2_GRPC_EC2_BUDGET_REPLICAS_FLOOR": "2"}
    need(all(cm.get(k) == v for k, v in defaults.items()), f"budget settings: {cm}")
    need("EC2_GRPC_EC2_BUDGET_KEY" not in cm, "EC2_GRPC_EC2_BUDGET_KEY set without budget.redis.key")
    need("share 1 of the account's EC2 API rate through Redis" in notes.get("redis", ""),
         "NOTES do not state the shared budget")

    render("redis-url-only", None, BASE, {"budget": {"redis": {"urlSecret": {"name": "ec2-grpc-redis"}}}})
    cm = redis_url_from_secret("redis-url-only", "ec2-grpc-redis", "url")
    need("EC2_GRPC_EC2_BUDGET_REDIS_PASSWORD_FILE" not in cm, "password file set without passwordSecret")
    pod = one("redis-url-only", "Deployment")["spec"]["template"]["spec"]
    need("volumes" not in pod, f"volumes without passwordSecret: {pod.get('volumes')}")

    values = yaml.safe_load(open(ALL_ON))
    redis = values["budget"]["redis"]
    cm = redis_url_from_secret("all-on", redis["urlSecret"]["name"], redis["urlSecret"]["key"])
    password_volume("all-on", redis["passwordSecret"]["name"], redis["passwordSecret"]["key"])
    expected = {"EC2_GRPC_EC2_BUDGET_SHARE": str(values["config"]["ec2BudgetShare"]),
                "EC2_GRPC_EC2_BUDGET_KEY": redis["key"],
                "EC2_GRPC_EC2_BUDGET_REDIS_TIMEOUT_MS": str(redis["timeoutMs"]),
                "EC2_GRPC_EC2_BUDGET_LEASE": str(redis["lease"]),
                "EC2_GRPC_EC2_BUDGET_REPLICAS_FLOOR": str(redis["replicasFloor"])}
    wrong = {k: (cm.get(k), v) for k, v in expected.items() if cm.get(k) != v}
    need(not wrong, f"all-on budget settings (rendered, expected): {wrong}")
    return ("share 1 as is, URL through secretKeyRef (in no ConfigMap), password file from a "
            f"read-only mount of its key only; all-on share {expected['EC2_GRPC_EC2_BUDGET_SHARE']}, "
            f"key {redis['key']}")


def budget_guards():
    refused = {
        "budget.redis.passwordSecret needs budget.redis.urlSecret.name": {
            "budget": {"redis": {"passwordSecret": {"name": "ec2-grpc-redis"}}}},
        "budget.redis.key needs budget.redis.urlSecret.name": {
            "budget": {"redis": {"key": "123456789012:us-east-1"}}},
    }
    bad_schema = {"lease": 0, "timeoutMs": 0, "replicasFloor": 0, "key": "a key with spaces"}
    with helm.Chart.load(CHART) as chart:
        for message, values in refused.items():
            try:
                chart.render(values, name=RELEASE, namespace=NAMESPACE)
            except helm.HelmRenderError as exc:
                need(message in str(exc), f"render failed otherwise: {exc}")
            else:
                raise AssertionError(f"render accepted {values} (expected: {message})")
        for field, value in bad_schema.items():
            schema_rejects(chart, {"budget": {"redis": {field: value}}}, field)
    return ("render refuses passwordSecret and key without urlSecret; schema rejects lease 0, "
            "timeoutMs 0, replicasFloor 0, a key with spaces")


def configmap_file(label, env):
    """The (ConfigMap, key) that the file named by the settings' `env` comes from: a read-only
    mount of the whole ConfigMap as a directory (a subPath mount would never see an edit)."""
    pod = one(label, "Deployment")["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    path = settings(label).get(env)
    need(path, f"{env} is not set")
    mounts = [m for m in c.get("volumeMounts", []) if path.startswith(m["mountPath"].rstrip("/") + "/")]
    need(len(mounts) == 1, f"{env}={path} is under {len(mounts)} volume mounts")
    (m,) = mounts
    need(m.get("readOnly") is True, f"mount {m['name']} is not read-only")
    need("subPath" not in m, f"mount {m['name']} uses subPath: ConfigMap edits would not reach the pod")
    (vol,) = [v for v in pod["volumes"] if v["name"] == m["name"]]
    need("configMap" in vol, f"volume {vol['name']} is not a ConfigMap")
    name, key = vol["configMap"]["name"], path[len(m["mountPath"].rstrip("/")) + 1:]
    found = [d for _, d in rendered[label] if d["kind"] == "ConfigMap" and d["metadata"]["name"] == name]
    need(len(found) == 1, f"{len(found)} ConfigMaps named {name} in the {label} render")
    need(key in (found[0].get("data") or {}), f"ConfigMap {name} has no key {key}")
    return name, key, found[0]["data"][key]


def accounts_file():
    import tomllib
    values = yaml.safe_load(open(ALL_ON))
    name, key, text = configmap_file("all-on", "EC2_GRPC_ACCOUNTS_FILE")
    need(name == f"{RELEASE}-accounts" and key == "accounts.toml", f"accounts file is {key} of {name}")
    need(text.strip() == values["accounts"].strip(), "accounts.toml differs from the accounts value")
    accounts = tomllib.loads(text)["accounts"]
    need(len(accounts) == 2, f"{len(accounts)} accounts in the all-on accounts file, not 2")
    need(any("external_id" in a for a in accounts.values()), "no account with external_id")
    need(any(len(a.get("roles", [])) > 1 for a in accounts.values()), "no account with a role chain")
    _, _, roles = configmap_file("all-on", "EC2_GRPC_AUTH_ROLES_FILE")
    need("targets" in tomllib.loads(roles), "the all-on roles file has no [targets] table")
    need("ConfigMap ec2-grpc-accounts" in notes.get("all-on", ""), "NOTES do not name the accounts ConfigMap")
    names = [d["metadata"]["name"] for _, d in rendered["default"] if d["kind"] == "ConfigMap"]
    need(names == [RELEASE], f"default render ConfigMaps: {names}")
    need("EC2_GRPC_ACCOUNTS_FILE" not in settings("default"), "EC2_GRPC_ACCOUNTS_FILE set by default")
    pod = one("default", "Deployment")["spec"]["template"]["spec"]
    need("volumes" not in pod, f"default volumes: {pod.get('volumes')}")
    return (f"{key} of ConfigMap {name} ({', '.join(sorted(accounts))}: external_id, role chain) "
            "mounted read-only as a directory; nothing rendered by default")


def configmap_files_alone():
    render("accounts-alone", None, BASE, {"accounts": "[accounts.dev]\nid = \"111111111111\"\n"
                                                      "role_arn = \"arn:aws:iam::111111111111:role/ec2-grpc\"\n"
                                                      "regions = [\"us-east-1\"]\n"})
    validate("accounts-alone")
    name, key, _ = configmap_file("accounts-alone", "EC2_GRPC_ACCOUNTS_FILE")
    need((name, key) == (f"{RELEASE}-accounts", "accounts.toml"), f"accounts file is {key} of {name}")
    need("every caller reaches every account" in notes.get("accounts-alone", ""),
         "NOTES do not warn that every caller reaches every account")
    render("jwks-url-roles", None, BASE, {"auth": {"jwksUrl": "https://oidc.example.com/jwks",
                                                   "roles": "[grants]\nci-bot = [\"reader\"]\n"}})
    validate("jwks-url-roles")
    name, key, _ = configmap_file("jwks-url-roles", "EC2_GRPC_AUTH_ROLES_FILE")
    need((name, key) == (f"{RELEASE}-roles", "roles.toml"), f"roles file is {key} of {name}")
    return "accounts file alone and roles file with jwksUrl alone: each a read-only ConfigMap mount; strict schemas valid"


def memory(label):
    (c,) = one(label, "Deployment")["spec"]["template"]["spec"]["containers"]
    res = c.get("resources") or {}
    return (res.get("requests") or {}).get("memory"), (res.get("limits") or {}).get("memory")


def memory_sizing():
    need(memory("default") == ("64Mi", "256Mi"), f"default memory (request, limit): {memory('default')}")
    n = yaml.safe_load(open(ALL_ON))["inventory"]["expectedInstances"]
    request = 64 + -(-n * 5 // 2048)
    expected = (f"{request}Mi", f"{max(256, -(-request * 5 // 4))}Mi")
    need(memory("all-on") == expected, f"all-on memory for {n} instances: {memory('all-on')}, not {expected}")
    sized = {"inventory": {"expectedInstances": 100000}}
    render("sized", None, BASE, sized)
    validate("sized")
    need(memory("sized") == ("309Mi", "387Mi"), f"memory for 100000 instances: {memory('sized')}")
    need(int(memory("sized")[1].removesuffix("Mi")) > 256, "the limit for 100000 instances is not above 256Mi")
    text = notes.get("sized", "")
    need("request = 64Mi + ceil(2.5 KiB x instances) = 309Mi" in text
         and "limit = max(256Mi, ceil(1.25 x request)) = 387Mi" in text, "NOTES do not state the formula")
    cases = {  # explicit resources: (request, limit) expected
        "an explicit limit wins": ({"limits": {"memory": "1Gi"}}, ("309Mi", "1Gi")),
        "a filled-in request stays at or below a given limit": ({"limits": {"memory": "200Mi"}}, ("200Mi", "200Mi")),
        "a filled-in limit stays at or above a given request": ({"requests": {"memory": "512Mi"}}, ("512Mi", "512Mi")),
        "explicit request and limit win": ({"requests": {"memory": "128Mi"}, "limits": {"memory": "300Mi"}},
                                           ("128Mi", "300Mi")),
    }
    for i, (case, (resources, want)) in enumerate(cases.items()):
        render(f"sized-{i}", None, BASE, {**sized, "resources": resources})
        need(memory(f"sized-{i}") == want, f"{case}: {memory(f'sized-{i}')}, not {want}")
    validate("sized-0")
    with helm.Chart.load(CHART) as chart:
        bad = {**sized, "resources": {"requests": {"memory": "1Gi"}, "limits": {"memory": "512Mi"}}}
        try:
            chart.render(bad, name=RELEASE, namespace=NAMESPACE)
        except helm.HelmRenderError as exc:
            need("exceeds resources.limits.memory" in str(exc), f"render failed otherwise: {exc}")
        else:
            raise AssertionError("render accepted a memory request above the limit")
        schema_rejects(chart, {"inventory": {"expectedInstances": -1}}, "expectedInstances")
    return (f"100000 instances: request 309Mi, limit 387Mi; all-on {n}: {expected[0]} / {expected[1]}; "
            "default 64Mi / 256Mi; explicit values win; request > limit refused; schema rejects -1")


def pod_containers(label):
    """The Deployment's gateway container and its init containers."""
    pod = one(label, "Deployment")["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    return c, pod.get("initContainers") or []


def preflight(label):
    """The preflight init container `check`: checks that it runs the gateway's binary with the
    gateway's image, command, securityContext, env, envFrom and volumeMounts, and that it is a
    plain run-to-completion container (no ports, no probes, small resources); returns it."""
    c, inits = pod_containers(label)
    need([i["name"] for i in inits] == ["check"], f"init containers: {[i['name'] for i in inits]}")
    (i,) = inits
    for key in ("image", "imagePullPolicy", "command", "securityContext"):
        need(i.get(key) == c.get(key), f"{key} differs: check {i.get(key)!r}, gateway {c.get(key)!r}")
    for key in ("env", "envFrom", "volumeMounts"):
        need(i.get(key) == c.get(key), f"{key} differs from the gateway's: check {i.get(key)}, gateway {c.get(key)}")
    need(i.get("command") == ["/ec2-grpc"], f"command is {i.get('command')}")
    extra = c.get("args") or []
    args = i.get("args") or []
    need(args[:1] == ["check"], f"args {args} do not start with `check`")
    need(extra == [] or args[-len(extra):] == extra, f"args {args} do not end with the gateway's {extra}")
    sc = i.get("securityContext") or {}
    need(sc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem is not true")
    need(sc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation is not false")
    need(sc.get("capabilities", {}).get("drop") == ["ALL"], "capabilities do not drop ALL")
    need(sc.get("runAsNonRoot") is True, "runAsNonRoot is not true")
    for key in ("ports", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle", "restartPolicy"):
        need(key not in i, f"the check has {key}: {i.get(key)}")
    res = i.get("resources") or {}
    need("cpu" in res.get("requests", {}) and "memory" in res.get("requests", {})
         and "memory" in res.get("limits", {}), f"cpu request, memory request or limit missing: {res}")
    return i


def preflight_default():
    i = preflight("default")
    need(i["args"] == ["check"], f"args are {i['args']}, not [check]")
    c, _ = pod_containers("default")
    names = [e["name"] for e in i.get("env", [])]
    need(names == [e["name"] for e in c.get("env", [])], "env var names differ from the gateway's")
    res = i["resources"]
    want = {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "128Mi"}}
    need(res == want, f"resources are {res}, not {want}")
    text = notes.get("default", "")
    need("`ec2-grpc check` (init container `check`)" in text and "logs POD -c check" in text,
         "NOTES do not describe the preflight check")
    mounts = [m["name"] for m in i.get("volumeMounts", [])]
    return (f"init container check: args {i['args']}, gateway's image, command, env "
            f"({len(names)} vars), envFrom and mounts ({len(mounts)}), hardened, no ports or probes, "
            "requests 50m/64Mi, limits 1/128Mi")


def preflight_all_on():
    i = preflight("all-on")
    need(i["args"][:2] == ["check", "--aws"], f"args are {i['args']}, not starting with check --aws")
    c, _ = pod_containers("all-on")
    names = [e["name"] for e in i.get("env", [])]
    need("EC2_GRPC_EC2_BUDGET_REDIS_URL" in names, f"no Redis URL in the check's env: {names}")
    mounts = sorted(m["name"] for m in i.get("volumeMounts", []))
    expected = {"auth-roles", "accounts", "auth-tokens", "auth-client-ca", "tls", "budget-redis-password", "scratch"}
    need(set(mounts) == expected, f"the check's mounts are {mounts}, not {sorted(expected)}")
    need("`ec2-grpc check --aws`" in notes.get("all-on", ""), "NOTES do not name check --aws")
    return f"args {i['args']}; env {', '.join(names)}; mounts {', '.join(mounts)} as the gateway's"


def preflight_off_and_guards():
    render("preflight-off", None, BASE, {"preflight": {"enabled": False}})
    validate("preflight-off")
    _, inits = pod_containers("preflight-off")
    need(not inits, f"init containers with preflight.enabled false: {[i['name'] for i in inits]}")
    need("-c check" not in notes.get("preflight-off", ""), "NOTES name the check while it is off")
    render("preflight-args", None, BASE, {"extraArgs": ["--log-level", "debug"], "preflight": {"aws": True},
                                          "resources": {"limits": {"cpu": "20m", "memory": "96Mi"}}})
    validate("preflight-args")
    i = preflight("preflight-args")
    want = ["check", "--aws", "--log-level", "debug"]
    need(i["args"] == want, f"args are {i['args']}, not {want}")
    want_res = {"requests": {"cpu": "20m", "memory": "64Mi"}, "limits": {"cpu": "20m", "memory": "96Mi"}}
    need(i["resources"] == want_res, f"resources under a 20m / 96Mi gateway limit: {i['resources']}")
    with helm.Chart.load(CHART) as chart:
        for bad, field in (({"preflight": {"aws": "yes"}}, "aws"), ({"preflight": {"enable": True}}, "enable")):
            schema_rejects(chart, bad, field)
    return ("preflight.enabled false: no init container; extraArgs after `check --aws`; limits "
            "follow a lower gateway limit; schema rejects aws=\"yes\" and an unknown key; strict schemas valid")


def audit_trail():
    import tomllib
    policy = '[[rules]]\nprincipals = ["prober"]\nlevel = "none"\n'
    render("audit", None, BASE, {"audit": {"enabled": True, "required": True, "policy": policy}})
    validate("audit")
    env = settings("audit")
    need(env.get("EC2_GRPC_AUDIT_LOG") == "-", f"EC2_GRPC_AUDIT_LOG is {env.get('EC2_GRPC_AUDIT_LOG')!r}")
    need(env.get("EC2_GRPC_AUDIT_REQUIRED") == "true",
         f"EC2_GRPC_AUDIT_REQUIRED is {env.get('EC2_GRPC_AUDIT_REQUIRED')!r}")
    name, key, text = configmap_file("audit", "EC2_GRPC_AUDIT_POLICY_FILE")
    need((name, key) == (f"{RELEASE}-audit", "policy.toml"), f"audit policy is {key} of {name}")
    need(tomllib.loads(text) == tomllib.loads(policy), f"policy.toml differs from audit.policy: {text!r}")
    c, _ = pod_containers("audit")
    (m,) = [m for m in c["volumeMounts"] if m["name"] == "audit-policy"]
    need(m["mountPath"] == "/etc/ec2-grpc/audit", f"audit policy mounted at {m['mountPath']}")
    need(all(m["name"] != "audit-log" for m in c["volumeMounts"]), "audit-log mounted for a trail to stdout")
    preflight("audit")

    log = "/var/log/ec2-grpc/audit.jsonl"
    render("audit-file", None, BASE, {"audit": {"enabled": True, "log": log}})
    validate("audit-file")
    env = settings("audit-file")
    need(env.get("EC2_GRPC_AUDIT_LOG") == log, f"EC2_GRPC_AUDIT_LOG is {env.get('EC2_GRPC_AUDIT_LOG')!r}")
    need(env.get("EC2_GRPC_AUDIT_REQUIRED") == "false",
         f"EC2_GRPC_AUDIT_REQUIRED is {env.get('EC2_GRPC_AUDIT_REQUIRED')!r}")
    need("EC2_GRPC_AUDIT_POLICY_FILE" not in env, "EC2_GRPC_AUDIT_POLICY_FILE set without audit.policy")
    names = [d["metadata"]["name"] for _, d in rendered["audit-file"] if d["kind"] == "ConfigMap"]
    need(names == [RELEASE], f"ConfigMaps without audit.policy: {names}")
    pod = one("audit-file", "Deployment")["spec"]["template"]["spec"]
    c, _ = pod_containers("audit-file")
    need(c["securityContext"].get("readOnlyRootFilesystem") is True, "the root filesystem is not read-only")
    mounts = [m for m in c.get("volumeMounts", []) if log.startswith(m["mountPath"].rstrip("/") + "/")]
    need(len(mounts) == 1, f"{log} is under {len(mounts)} volume mounts")
    (m,) = mounts
    need(m == {"name": "audit-log", "mountPath": "/var/log/ec2-grpc"}, f"audit log mount: {m}")
    need(m.get("readOnly") is not True, "the audit-log mount is read-only")
    vols = [v for v in pod["volumes"] if v["name"] == "audit-log"]
    need(vols == [{"name": "audit-log", "emptyDir": {}}], f"audit-log volume: {vols}")
    preflight("audit-file")
    claim = {"persistentVolumeClaim": {"claimName": "ec2-grpc-audit"}}
    render("audit-pvc", None, BASE, {"audit": {"enabled": True, "log": log, "volume": claim}})
    validate("audit-pvc")
    pod = one("audit-pvc", "Deployment")["spec"]["template"]["spec"]
    vols = [v for v in pod["volumes"] if v["name"] == "audit-log"]
    need(vols == [{"name": "audit-log", **claim}], f"audit-log volume from audit.volume: {vols}")

    with helm.Chart.load(CHART) as chart:
        schema_rejects(chart, {"audit": {"enabled": True, "log": "relative/path"}}, "/audit/log")
        schema_rejects(chart, {"audit": {"volume": {"name": "x", "emptyDir": {}}}}, "/audit/volume/name")
        try:
            chart.render({"audit": {"enabled": True, "log": "/audit.jsonl"}}, name=RELEASE, namespace=NAMESPACE)
        except helm.HelmRenderError as exc:
            need("must be a file in a directory" in str(exc), f"render failed otherwise: {exc}")
        else:
            raise AssertionError("render accepted audit.log=/audit.jsonl (a volume mounted at /)")
    for label in ("default", "all-on"):
        found = sorted(k for k in settings(label) if k.startswith("EC2_GRPC_AUDIT_"))
        need(not found, f"{label} render sets {found}")
    return (f"EC2_GRPC_AUDIT_LOG \"-\", _REQUIRED \"true\", _POLICY_FILE {key} of ConfigMap {name} mounted "
            f"read-only as a directory; {log}: emptyDir (or audit.volume) audit-log writable at "
            "/var/log/ec2-grpc; schema rejects a relative log and a named volume, render a log under /; "
            "no audit variables by default; strict schemas valid")


BASE = ["ConfigMap", "Deployment", "Service", "ServiceAccount", "PodDisruptionBudget"]
ALL = BASE + ["HorizontalPodAutoscaler", "NetworkPolicy", "ServiceMonitor"]

print(f"check-helm: Helm SDK {helm.helm_sdk_version()} (helm-python-sdk {helm.__version__}), "
      f"Kubernetes schemas {KUBE}", flush=True)
check("lint --strict, default values", lambda: lint(None))
check(f"lint --strict, {os.path.basename(ALL_ON)}", lambda: lint(ALL_ON))
check("render, default values", lambda: render("default", None, BASE))
check(f"render, {os.path.basename(ALL_ON)}", lambda: render("all-on", ALL_ON, ALL))
check(f"kubernetes {KUBE} schemas, default render", lambda: validate("default"))
check(f"kubernetes {KUBE} schemas, all-on render", lambda: validate("all-on"))
check("default Deployment hardening and probes", deployment_hardening)
check("all-on ServiceAccount IRSA annotation", irsa)
check("values schema and render guards", guards)
check("all-on TLS, client CA, JWKS URL and tcpSocket probes", tls_all_on)
check("render with auth.jwksSecret, client CA from the TLS Secret", jwks_secret_same_ca)
check("auth guards (client CA without TLS, JWKS Secret with URL)", auth_guards)
check("EC2 budget without Redis: share divided by the replicas", budget_without_redis)
check("EC2 budget through Redis: URL and password from Secrets", budget_with_redis)
check("budget guards (password or key without Redis, schema bounds)", budget_guards)
check("all-on accounts file: ConfigMap mounted read-only, EC2_GRPC_ACCOUNTS_FILE", accounts_file)
check("accounts or roles ConfigMap without any Secret mounted", configmap_files_alone)
check("memory from inventory.expectedInstances, explicit values win", memory_sizing)
check("preflight init container `check`, default render", preflight_default)
check("preflight init container, all-on render: --aws, the gateway's Secrets", preflight_all_on)
check("preflight off, extraArgs, resources caps and schema guards", preflight_off_and_guards)
check("audit trail: env, policy ConfigMap mount, file volume, schema guards", audit_trail)

passed, failed = results.count(True), results.count(False)
print(f"helm: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
