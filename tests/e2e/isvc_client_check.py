"""The serving issue's acceptance from a client's side: an InferenceService of a TorchScript model
trained by skiff-ml, reached through skiff's gateway with python3-requests (Debian), answers V2 JSON,
V2 with the binary tensor extension and V1 `:predict` with the predictions the same model gives in
process (python3-torch's torch.jit.load). Usage: isvc_client_check.py URL DATA_DIR, where URL is
the InferenceService's status.address.url and DATA_DIR holds fmnist/ (prepared) and model/.
"""
import json
import os
import struct
import sys

import requests
import torch


def main():
    url, data = sys.argv[1].rstrip("/"), sys.argv[2]
    blob = open(os.path.join(data, "fmnist", "test.bin"), "rb").read()
    count, features, dtype = struct.unpack_from("<QII", blob, 8)
    assert features == 784 and dtype == 1, (features, dtype)
    labels = struct.unpack_from("<%di" % count, blob, 24 + count * features)
    n = min(count, 64)
    images = [[float(p) for p in blob[24 + i * 784:24 + (i + 1) * 784]] for i in range(n)]

    model = torch.jit.load(os.path.join(data, "model", "model.pt"))
    model.eval()
    with torch.no_grad():
        expected = model(torch.tensor(images).reshape(n, 1, 28, 28)).tolist()

    session = requests.Session()
    meta = session.get(url + "/v2/models/mnist").json()
    assert meta["inputs"][0]["shape"] == [-1, 1, 28, 28], meta
    output = meta["outputs"][0]["name"]

    def close(got, want, what):
        assert len(got) == len(want), (what, len(got), len(want))
        for g, w in zip(got, want):
            assert abs(g - w) <= 1e-4 * max(1.0, abs(w)), (what, got, want)

    correct = 0
    for i in range(n):
        # V2 JSON
        r = session.post(url + "/v2/models/mnist/infer", json={"id": str(i), "inputs": [
            {"name": "input", "datatype": "FP32", "shape": [1, 1, 28, 28], "data": images[i]}]})
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["id"] == str(i) and out["outputs"][0]["name"] == output, out
        close(out["outputs"][0]["data"], expected[i], "v2 json")
        # V2 binary tensor extension: the JSON header, then the raw little-endian floats
        raw = struct.pack("<784f", *images[i])
        header = json.dumps({"inputs": [{"name": "input", "datatype": "FP32",
                                         "shape": [1, 1, 28, 28],
                                         "parameters": {"binary_data_size": len(raw)}}]}).encode()
        r = session.post(url + "/v2/models/mnist/infer", data=header + raw, headers={
            "Content-Type": "application/octet-stream",
            "Inference-Header-Content-Length": str(len(header))})
        assert r.status_code == 200, r.text
        close(r.json()["outputs"][0]["data"], expected[i], "v2 binary")
        # V1
        r = session.post(url + "/v1/models/mnist:predict",
                         json={"instances": [[[images[i][y * 28:(y + 1) * 28] for y in range(28)]]]})
        assert r.status_code == 200, r.text
        close(r.json()["predictions"][0], expected[i], "v1")
        correct += max(range(10), key=expected[i].__getitem__) == labels[i]

    # Errors as the protocol says, through the gateway.
    r = session.post(url + "/v2/models/mnist/infer", json={"inputs": [
        {"name": "input", "datatype": "FP32", "shape": [1, 1, 28, 27], "data": [0.0] * 756}]})
    assert r.status_code == 400 and "error" in r.json(), r.text
    print("isvc-client-ok: %d images, V2 JSON, V2 binary and V1 equal the in-process model; "
          "accuracy %.3f" % (n, correct / n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
