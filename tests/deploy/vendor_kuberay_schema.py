"""Regenerate schemas/kuberay-rayservice-v1.schema.json from KubeRay's RayService CRD.

    python tests/deploy/vendor_kuberay_schema.py CRD_YAML TAG COMMIT

CRD_YAML is `ray-operator/config/crd/bases/ray.io_rayservices.yaml` of ray-project/kuberay at TAG
(COMMIT). Kept: the `ray.io/v1` openAPIV3Schema of the object minus `status` (never written by us),
with every `description` dropped (about 85% of the 1 MB file) and keys sorted. Nothing else is
changed; the test makes it strict (unknown fields refused) when it loads it. KubeRay is
Apache-2.0: its license is beside the schema (schemas/KUBERAY-LICENSE).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

OUT = Path(__file__).resolve().parent / "schemas" / "kuberay-rayservice-v1.schema.json"


def _strip(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def main(crd_path: str, tag: str, commit: str) -> None:
    crd = yaml.safe_load(Path(crd_path).read_text())
    assert crd["spec"]["names"]["kind"] == "RayService", crd_path
    (v1,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema = _strip(v1["schema"]["openAPIV3Schema"])
    schema["properties"].pop("status", None)
    schema["$comment"] = (f"ray-project/kuberay {tag} ({commit}), ray-operator/config/crd/bases/"
                          "ray.io_rayservices.yaml, version v1: openAPIV3Schema without status and "
                          "descriptions (tests/deploy/vendor_kuberay_schema.py). Apache-2.0, see "
                          "KUBERAY-LICENSE.")
    OUT.write_text(json.dumps(schema, separators=(",", ":"), sort_keys=True) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main(*sys.argv[1:4])
