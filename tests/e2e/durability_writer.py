#!/usr/bin/python3
"""Creates ConfigMaps in a loop through the Kubernetes python client and prints the name of each
one the server acknowledged (201), flushing after each, until a create fails (the server was killed)
or COUNT objects exist. Used by the kill -9 durability test: every printed name must survive."""
import sys

from kubernetes import client, config


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    prefix = sys.argv[2] if len(sys.argv) > 2 else "durable"
    config.load_kube_config()
    api = client.CoreV1Api()
    for i in range(count):
        name = f"{prefix}-{i}"
        body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels={"set": prefix}),
                                  data={"index": str(i), "payload": "x" * 512})
        try:
            api.create_namespaced_config_map("default", body, _request_timeout=5)
        except Exception as e:  # the server went away: stop, having printed only acknowledged names
            print(f"stopped at {name}: {type(e).__name__}", file=sys.stderr, flush=True)
            return 0
        print(name, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
