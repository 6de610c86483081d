#!/usr/bin/env python3
"""Check rendered Kubernetes manifests against Tabula's pod hardening rules.

Every pod template (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Pod) must meet
the Pod Security Standards "restricted" profile plus the checks in CONVENTIONS.md:

  - runAsNonRoot true and a high UID (>= 10000) for every container (pod or container level)
  - seccompProfile RuntimeDefault or Localhost (pod or container level)
  - per container: allowPrivilegeEscalation false, readOnlyRootFilesystem true,
    capabilities drop ALL (only NET_BIND_SERVICE may be added), not privileged
  - no hostNetwork/hostPID/hostIPC, no hostPort, only the volume types "restricted" allows
  - per container: resources requests and limits for cpu and memory
  - per long-running container: livenessProbe and readinessProbe
  - automountServiceAccountToken set explicitly on the pod (true only where it calls the API)
  - with --require-network-policy: a NetworkPolicy in the same input selects the pod

    helm template charts/tabula | check_pod_security.py --require-network-policy -
    check_pod_security.py rendered.yaml other.yaml

Prints one line per problem, naming the object, container and field, and exits 1 if there is
any; exits 2 if the input has no pod template at all (a check that checks nothing is a bug).
"""

import argparse
import sys

import yaml

MIN_UID = 10000
# Volume types the "restricted" profile allows.
RESTRICTED_VOLUME_TYPES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
    "persistentVolumeClaim", "projected", "secret",
}
ALLOWED_ADDED_CAPABILITIES = {"NET_BIND_SERVICE"}


def pod_spec_and_labels(obj):
    """(pod spec, pod labels) of a workload, or None for objects that hold no pod template."""
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return spec, (obj.get("metadata") or {}).get("labels") or {}
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        template = spec.get("template") or {}
    elif kind == "CronJob":
        template = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
    else:
        return None
    return template.get("spec") or {}, (template.get("metadata") or {}).get("labels") or {}


def effective(container, pod_sc, field):
    """A security-context field as the kubelet sees it: the container's, else the pod's."""
    csc = container.get("securityContext") or {}
    if field in csc:
        return csc[field]
    return pod_sc.get(field)


def check_container(c, pod_sc, where, long_running, problems):
    name = f"{where} container {c.get('name', '?')!r}"
    csc = c.get("securityContext") or {}

    if effective(c, pod_sc, "runAsNonRoot") is not True:
        problems.append(f"{name}: securityContext.runAsNonRoot must be true (pod or container level)")
    uid = effective(c, pod_sc, "runAsUser")
    if uid is None:
        problems.append(f"{name}: securityContext.runAsUser is missing (want a UID >= {MIN_UID})")
    elif not isinstance(uid, int) or uid < MIN_UID:
        problems.append(f"{name}: securityContext.runAsUser is {uid!r}, want a UID >= {MIN_UID}")
    gid = effective(c, pod_sc, "runAsGroup")
    if gid is not None and (not isinstance(gid, int) or gid == 0):
        problems.append(f"{name}: securityContext.runAsGroup is {gid!r}, must not be root")
    seccomp = (effective(c, pod_sc, "seccompProfile") or {}).get("type")
    if seccomp not in ("RuntimeDefault", "Localhost"):
        problems.append(f"{name}: securityContext.seccompProfile.type is {seccomp!r}, want RuntimeDefault")

    if csc.get("allowPrivilegeEscalation") is not False:
        problems.append(f"{name}: securityContext.allowPrivilegeEscalation must be false")
    if csc.get("readOnlyRootFilesystem") is not True:
        problems.append(f"{name}: securityContext.readOnlyRootFilesystem must be true")
    if csc.get("privileged"):
        problems.append(f"{name}: securityContext.privileged must not be true")
    caps = csc.get("capabilities") or {}
    if "ALL" not in (caps.get("drop") or []):
        problems.append(f"{name}: securityContext.capabilities.drop must contain ALL")
    extra = set(caps.get("add") or []) - ALLOWED_ADDED_CAPABILITIES
    if extra:
        problems.append(f"{name}: securityContext.capabilities.add has {sorted(extra)}; only NET_BIND_SERVICE is allowed")

    for port in c.get("ports") or []:
        if port.get("hostPort"):
            problems.append(f"{name}: ports[{port.get('name', port.get('containerPort'))}].hostPort must not be set")

    resources = c.get("resources") or {}
    for section in ("requests", "limits"):
        for res in ("cpu", "memory"):
            if res not in (resources.get(section) or {}):
                problems.append(f"{name}: resources.{section}.{res} is missing")

    if long_running:
        for probe in ("livenessProbe", "readinessProbe"):
            if not c.get(probe):
                problems.append(f"{name}: {probe} is missing")


def selects(selector, labels):
    """Whether a LabelSelector (matchLabels + matchExpressions) selects a label set."""
    if selector is None:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def namespace_of(obj):
    return (obj.get("metadata") or {}).get("namespace")


def check(objects, require_network_policy):
    problems = []
    pods_checked = 0
    policies = [o for o in objects if o.get("kind") == "NetworkPolicy"]
    for obj in objects:
        found = pod_spec_and_labels(obj)
        if found is None:
            continue
        spec, labels = found
        pods_checked += 1
        where = f"{obj['kind']}/{(obj.get('metadata') or {}).get('name', '?')}"
        pod_sc = spec.get("securityContext") or {}
        long_running = obj["kind"] not in ("Job", "CronJob")

        for flag in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(flag):
                problems.append(f"{where}: spec.{flag} must not be true")
        if "automountServiceAccountToken" not in spec:
            problems.append(f"{where}: automountServiceAccountToken must be set explicitly "
                            "(true only for pods that call the Kubernetes API)")
        for vol in spec.get("volumes") or []:
            kinds = set(vol) - {"name"}
            if not kinds <= RESTRICTED_VOLUME_TYPES:
                problems.append(f"{where}: volume {vol.get('name')!r} of type {sorted(kinds - RESTRICTED_VOLUME_TYPES)} "
                                "is not allowed by the restricted profile")
        containers = spec.get("containers") or []
        if not containers:
            problems.append(f"{where}: no containers")
        for c in containers:
            check_container(c, pod_sc, where, long_running, problems)
        for c in spec.get("initContainers") or []:
            # Init containers run to completion: no probes, everything else applies. A native
            # sidecar (restartPolicy: Always) is long-running.
            check_container(c, pod_sc, where + " init", c.get("restartPolicy") == "Always", problems)

        if require_network_policy:
            ns = namespace_of(obj)
            if not any(namespace_of(p) == ns and selects((p.get("spec") or {}).get("podSelector"), labels)
                       for p in policies):
                problems.append(f"{where}: no NetworkPolicy selects its pods (labels {labels})")
    return pods_checked, problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", help="YAML files with one or more documents ('-' for stdin)")
    ap.add_argument("--require-network-policy", action="store_true",
                    help="also require a NetworkPolicy in the input that selects each pod")
    args = ap.parse_args()

    objects = []
    for path in args.files:
        try:
            text = sys.stdin.read() if path == "-" else open(path).read()
            docs = list(yaml.safe_load_all(text))
        except (OSError, yaml.YAMLError) as e:
            print(f"check_pod_security: cannot read {path}: {e}", file=sys.stderr)
            return 2
        for doc in docs:
            if not isinstance(doc, dict):
                continue
            if doc.get("kind") == "List":
                objects.extend(i for i in doc.get("items") or [] if isinstance(i, dict))
            else:
                objects.append(doc)

    pods_checked, problems = check(objects, args.require_network_policy)
    if pods_checked == 0:
        print("check_pod_security: FAIL: no pod templates in the input", file=sys.stderr)
        return 2
    for p in problems:
        print(f"check_pod_security: {p}")
    if problems:
        print(f"check_pod_security: FAIL: {len(problems)} problem(s) in {pods_checked} pod template(s)")
        return 1
    print(f"check_pod_security: ok: {pods_checked} pod template(s) meet the restricted profile")
    return 0


if __name__ == "__main__":
    sys.exit(main())
