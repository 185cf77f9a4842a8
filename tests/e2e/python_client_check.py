#!/usr/bin/python3
"""The Kubernetes python client (Debian's python3-kubernetes) against skiff: kubeconfig loading,
core and custom-object lists, a TFJob create, and a watch that sees ADDED then MODIFIED.
Exits non-zero with a message naming the call that failed."""
import sys
import threading
import time

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

GROUP, VERSION, PLURAL = "kubeflow.org", "v1", "tfjobs"

TFJOB = {
    "apiVersion": "kubeflow.org/v1",
    "kind": "TFJob",
    "metadata": {"name": "py-tfjob", "labels": {"from": "python"}},
    "spec": {
        "tfReplicaSpecs": {
            "Worker": {
                "replicas": 1,
                "template": {"spec": {"containers": [{"name": "tensorflow", "image": "skiff/ml"}]}},
            }
        }
    },
}


def fail(what, err):
    detail = err
    if isinstance(err, ApiException):
        detail = f"HTTP {err.status} {err.reason}: {err.body}"
    print(f"FAIL: {what}: {detail}", file=sys.stderr)
    sys.exit(1)


def step(what, fn):
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - any failure is reported with the call's name
        fail(what, e)


def main():
    step("load_kube_config", config.load_kube_config)
    core = client.CoreV1Api()
    custom = client.CustomObjectsApi()

    namespaces = step("CoreV1Api().list_namespace()", core.list_namespace)
    names = [ns.metadata.name for ns in namespaces.items]
    if "default" not in names:
        fail("list_namespace", f"no 'default' namespace in {names}")
    print("namespaces:", " ".join(names))

    listed = step("list_namespaced_custom_object(tfjobs)",
                  lambda: custom.list_namespaced_custom_object(GROUP, VERSION, "default", PLURAL))
    if listed.get("kind") != "TFJobList" or "items" not in listed:
        fail("list_namespaced_custom_object", f"not a TFJobList: {str(listed)[:300]}")
    start_rv = listed["metadata"].get("resourceVersion")
    print("tfjobs before:", len(listed["items"]), "resourceVersion", start_rv)

    # Watch from the list's resourceVersion in a thread; create and then modify the object.
    seen = []
    errors = []

    def watcher():
        try:
            w = watch.Watch()
            for event in w.stream(custom.list_namespaced_custom_object, GROUP, VERSION, "default",
                                  PLURAL, resource_version=start_rv, timeout_seconds=10):
                obj = event["object"]
                seen.append((event["type"], obj["metadata"]["name"]))
                if event["type"] == "MODIFIED" and obj["metadata"]["name"] == "py-tfjob":
                    w.stop()
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    t = threading.Thread(target=watcher, daemon=True)
    t.start()
    time.sleep(0.5)

    created = step("create_namespaced_custom_object(tfjob)",
                   lambda: custom.create_namespaced_custom_object(GROUP, VERSION, "default",
                                                                  PLURAL, TFJOB))
    if created["metadata"].get("uid") in (None, ""):
        fail("create_namespaced_custom_object", f"no uid in {created['metadata']}")
    step("patch_namespaced_custom_object(tfjob)",
         lambda: custom.patch_namespaced_custom_object(
             GROUP, VERSION, "default", PLURAL, "py-tfjob",
             {"metadata": {"labels": {"patched": "yes"}}}))
    got = step("get_namespaced_custom_object(tfjob)",
               lambda: custom.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL,
                                                           "py-tfjob"))
    if got["metadata"].get("labels", {}).get("patched") != "yes":
        fail("get after patch", f"label missing: {got['metadata']}")

    t.join(15)
    if errors:
        fail("watch.Watch().stream(tfjobs)", errors[0])
    if t.is_alive():
        fail("watch.Watch().stream(tfjobs)", f"no MODIFIED event within the timeout; saw {seen}")
    types = [ty for ty, name in seen if name == "py-tfjob"]
    if types[:1] != ["ADDED"] or "MODIFIED" not in types:
        fail("watch.Watch().stream(tfjobs)", f"expected ADDED then MODIFIED, saw {seen}")
    print("watch saw:", " ".join(types))

    # A missing object is a clean 404 ApiException, not a crash.
    try:
        custom.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "no-such-job")
        fail("get missing tfjob", "expected a 404")
    except ApiException as e:
        if e.status != 404:
            fail("get missing tfjob", e)
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
