#!/usr/bin/env python3
"""Validate custom resources (e.g. e2e/manifests/table.yaml) against the CRDs in a folder.

kubernetes-validate knows only built-in kinds. This finds the CRD for each document's
apiVersion/kind in CRD_DIR and checks the document against that version's openAPIV3Schema the
way `kubectl apply` (strict field validation) would: unknown fields are errors unless the
schema preserves them, and `nullable` allows null.

    check_manifest_schema.py CRD_DIR MANIFEST...

Exits 1 naming the document and the path of each error; 2 if a document's kind has no CRD.
"""

import copy
import sys
from pathlib import Path

import jsonschema
import yaml


def strict(schema):
    """An OpenAPI v3 structural schema turned into an equivalent, strict JSON schema."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if not isinstance(node, dict):
            return
        if node.get("x-kubernetes-int-or-string"):
            node.pop("type", None)
            node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
            if node.get("nullable"):
                node["anyOf"].append({"type": "null"})
        elif node.get("nullable") and "type" in node:
            node["type"] = [node["type"], "null"]
        if (node.get("type") == "object" and "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")):
            node["additionalProperties"] = False
        for key in ("properties", "patternProperties"):
            for child in (node.get(key) or {}).values():
                walk(child)
        for key in ("items", "additionalProperties", "not"):
            if isinstance(node.get(key), dict):
                walk(node[key])
        for key in ("allOf", "anyOf", "oneOf"):
            for child in node.get(key) or []:
                walk(child)

    walk(schema)
    # apiVersion, kind and metadata are always allowed (generated schemas may omit them);
    # the API server, not the CRD schema, checks metadata.
    props = schema.setdefault("properties", {})
    props.setdefault("apiVersion", {"type": "string"})
    props.setdefault("kind", {"type": "string"})
    props["metadata"] = {"type": "object"}
    return schema


def load_crds(crd_dir):
    schemas = {}
    for path in sorted(Path(crd_dir).glob("*.y*ml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec.get("versions") or []:
                api_version = f"{spec['group']}/{version['name']}"
                schema = (version.get("schema") or {}).get("openAPIV3Schema")
                if schema:
                    schemas[(api_version, spec["names"]["kind"])] = (strict(schema), path.name)
    return schemas


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    schemas = load_crds(sys.argv[1])
    rc = 0
    checked = 0
    for manifest in sys.argv[2:]:
        for doc in yaml.safe_load_all(Path(manifest).read_text()):
            if not isinstance(doc, dict):
                continue
            key = (doc.get("apiVersion"), doc.get("kind"))
            what = f"{manifest}: {key[1]}/{(doc.get('metadata') or {}).get('name')}"
            if key not in schemas:
                print(f"check_manifest_schema: {what}: no CRD in {sys.argv[1]} defines {key[1]} {key[0]}")
                rc = max(rc, 2)
                continue
            schema, crd_file = schemas[key]
            errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(doc),
                            key=lambda e: list(e.absolute_path))
            for e in errors:
                path = ".".join(str(p) for p in e.absolute_path) or "(root)"
                print(f"check_manifest_schema: {what}: {path}: {e.message} (schema: {crd_file})")
            rc = max(rc, 1 if errors else 0)
            checked += 1
    if rc == 0:
        print(f"check_manifest_schema: ok: {checked} document(s) match their CRD schemas")
    return rc


if __name__ == "__main__":
    sys.exit(main())
