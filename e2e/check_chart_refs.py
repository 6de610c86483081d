#!/usr/bin/env python3
"""Check that the objects a chart renders point at each other correctly.

Schema validation (kubernetes-validate) checks each object alone and knows no CRD kinds such as
the prometheus-operator ServiceMonitor. This checks what holds between the objects:

  - a workload's selector selects its own pod template
  - a Service's selector selects some rendered pod template and each targetPort is a port of it
  - a ServiceMonitor selects a rendered Service in a namespace it watches, by a named port of it
  - a (Cluster)RoleBinding refers to a rendered (Cluster)Role and ServiceAccount
  - a pod's serviceAccountName is a rendered ServiceAccount

    helm template charts/tabula | check_chart_refs.py -

Prints one line per problem and exits 1 if there is any.
"""

import sys

import yaml

WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")


def name(o):
    return (o.get("metadata") or {}).get("name")


def ns(o):
    return (o.get("metadata") or {}).get("namespace")


def matches(match_labels, labels):
    return bool(match_labels) and all(labels.get(k) == v for k, v in match_labels.items())


def check(objects):
    problems = []
    by_kind = {}
    for o in objects:
        by_kind.setdefault(o.get("kind"), []).append(o)

    pods = []  # (namespace, labels, spec, where)
    for o in objects:
        if o.get("kind") not in WORKLOADS:
            continue
        where = f"{o['kind']}/{name(o)}"
        template = (o.get("spec") or {}).get("template") or {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        selector = ((o.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        if not matches(selector, labels):
            problems.append(f"{where}: spec.selector {selector} does not select its pod template labels {labels}")
        pods.append((ns(o), labels, template.get("spec") or {}, where))

    accounts = {(ns(o), name(o)) for o in by_kind.get("ServiceAccount", [])}
    for pod_ns, _, spec, where in pods:
        sa = spec.get("serviceAccountName")
        if sa and (pod_ns, sa) not in accounts:
            problems.append(f"{where}: serviceAccountName {sa!r} is not a rendered ServiceAccount")

    for svc in by_kind.get("Service", []):
        where = f"Service/{name(svc)}"
        selector = (svc.get("spec") or {}).get("selector") or {}
        selected = [p for p in pods if p[0] == ns(svc) and matches(selector, p[1])]
        if not selected:
            problems.append(f"{where}: selector {selector} selects no rendered pod template")
            continue
        for port in (svc.get("spec") or {}).get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            for _, _, spec, pod_where in selected:
                container_ports = [p for c in spec.get("containers") or [] for p in c.get("ports") or []]
                if not any(p.get("name") == target or p.get("containerPort") == target for p in container_ports):
                    problems.append(f"{where}: targetPort {target!r} is no container port of {pod_where}")

    for sm in by_kind.get("ServiceMonitor", []):
        where = f"ServiceMonitor/{name(sm)}"
        spec = sm.get("spec") or {}
        selector = (spec.get("selector") or {}).get("matchLabels") or {}
        watched = (spec.get("namespaceSelector") or {}).get("matchNames") or [ns(sm)]
        services = [s for s in by_kind.get("Service", [])
                    if ns(s) in watched and matches(selector, (s.get("metadata") or {}).get("labels") or {})]
        if not services:
            problems.append(f"{where}: selector {selector} selects no rendered Service in {watched}")
            continue
        endpoints = spec.get("endpoints") or []
        if not endpoints:
            problems.append(f"{where}: spec.endpoints is empty")
        for ep in endpoints:
            port_names = {p.get("name") for s in services for p in (s.get("spec") or {}).get("ports") or []}
            if ep.get("port") not in port_names:
                problems.append(f"{where}: endpoint port {ep.get('port')!r} is not a port name of the selected Service(s) {sorted(port_names)}")

    roles = {("Role", ns(o), name(o)) for o in by_kind.get("Role", [])}
    roles |= {("ClusterRole", None, name(o)) for o in by_kind.get("ClusterRole", [])}
    for kind in ("RoleBinding", "ClusterRoleBinding"):
        for b in by_kind.get(kind, []):
            where = f"{kind}/{name(b)}"
            ref = b.get("roleRef") or {}
            key = (ref.get("kind"), ns(b) if ref.get("kind") == "Role" else None, ref.get("name"))
            if key not in roles:
                problems.append(f"{where}: roleRef {ref.get('kind')}/{ref.get('name')} is not rendered")
            for s in b.get("subjects") or []:
                if s.get("kind") == "ServiceAccount" and (s.get("namespace"), s.get("name")) not in accounts:
                    problems.append(f"{where}: subject ServiceAccount {s.get('namespace')}/{s.get('name')} is not rendered")
    return problems


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    objects = []
    for path in sys.argv[1:]:
        text = sys.stdin.read() if path == "-" else open(path).read()
        objects += [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]
    problems = check(objects)
    for p in problems:
        print(f"check_chart_refs: {p}")
    if problems:
        print(f"check_chart_refs: FAIL: {len(problems)} problem(s) in {len(objects)} object(s)")
        return 1
    print(f"check_chart_refs: ok: {len(objects)} object(s) refer to each other correctly")
    return 0


if __name__ == "__main__":
    sys.exit(main())
