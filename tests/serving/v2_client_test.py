#!/usr/bin/env python3
"""Independent client test of skiff-model-server: python3-requests speaking Open Inference
Protocol V2 (JSON and the binary tensor extension) and V1, checked against the labels of the test
images and against `skiff-ml evaluate` of the same model.

Usage: v2_client_test.py SKIFF_ML SKIFF_MODEL_SERVER   (exit 77: skipped, no Fashion-MNIST)
"""
import json
import os
import shutil
import struct
import sys
import tempfile

import requests

from serving_client_util import (SKIP, read_test_split, run, start_server, stop_server,
                                  train_tiny_mlp)


def argmax(row):
    return max(range(len(row)), key=lambda k: row[k])


def main():
    skiff_ml, server_bin = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="skiff-v2-client-")
    server = None
    try:
        model = train_tiny_mlp(skiff_ml, work, 500)
        if model is None:
            return SKIP
        run([skiff_ml, "evaluate", "--model", model, "--data", os.path.join(work, "data"),
             "--split", "test", "--threads", "1", "--metrics-file",
             os.path.join(work, "eval.json")], os.path.join(work, "eval.log"))
        expected_accuracy = json.load(open(os.path.join(work, "eval.json")))["accuracy"]

        server, port = start_server(server_bin, ["--model-dir", model, "--address", "127.0.0.1",
                                                 "--http-port", "0", "--max-batch-size", "8",
                                                 "--max-latency-us", "1000"],
                                    os.path.join(work, "server.log"))
        base = "http://127.0.0.1:%d" % port
        session = requests.Session()

        assert session.get(base + "/v2/health/ready").status_code == 200
        meta = session.get(base + "/v2/models/fashion").json()
        assert meta["inputs"][0] == {"name": "input", "datatype": "FP32", "shape": [-1, 1, 28, 28]}, meta

        images, labels = read_test_split(os.path.join(work, "data"))
        n = len(images)
        json_pred, bin_pred, v1_pred = [], [], []
        for i in range(n):
            body = {"id": str(i), "inputs": [{"name": "input", "datatype": "FP32",
                                              "shape": [1, 1, 28, 28], "data": images[i]}]}
            r = session.post(base + "/v2/models/fashion/infer", json=body)
            assert r.status_code == 200, r.text
            out = r.json()
            assert out["id"] == str(i) and out["model_name"] == "fashion", out
            json_pred.append(argmax(out["outputs"][0]["data"]))

            header = json.dumps({"inputs": [{"name": "input", "datatype": "FP32",
                                             "shape": [1, 1, 28, 28],
                                             "parameters": {"binary_data_size": 784 * 4}}],
                                 "outputs": [{"name": "output",
                                              "parameters": {"binary_data": True}}]}).encode()
            r = session.post(base + "/v2/models/fashion/infer",
                             data=header + struct.pack("<784f", *images[i]),
                             headers={"Content-Type": "application/octet-stream",
                                      "Inference-Header-Content-Length": str(len(header))})
            assert r.status_code == 200, r.text
            json_len = int(r.headers["Inference-Header-Content-Length"])
            head = json.loads(r.content[:json_len])
            assert head["outputs"][0]["parameters"]["binary_data_size"] == 40, head
            logits = struct.unpack("<10f", r.content[json_len:])
            bin_pred.append(argmax(logits))
            if abs(max(logits) - max(out["outputs"][0]["data"])) > 1e-4 * max(1, abs(max(logits))):
                sys.exit("JSON and binary logits differ for image %d" % i)

        for start in range(0, n, 50):
            r = session.post(base + "/v1/models/fashion:predict",
                             json={"instances": images[start:start + 50]})
            assert r.status_code == 200, r.text
            v1_pred.extend(argmax(p) for p in r.json()["predictions"])

        accuracy = sum(p == y for p, y in zip(json_pred, labels)) / n
        print("test images: %d, accuracy over REST: %.4f, skiff-ml evaluate: %.4f"
              % (n, accuracy, expected_accuracy))
        assert json_pred == bin_pred, "JSON and binary predictions differ"
        assert json_pred == v1_pred, "V2 and V1 predictions differ"
        # The same model scored in-process by skiff-ml: the server must agree (ties aside).
        assert abs(accuracy - expected_accuracy) <= 1.0 / n + 1e-9, (accuracy, expected_accuracy)
        assert accuracy > 0.3, "an MLP trained on 450 images beats chance (0.1) by far"

        bad = session.post(base + "/v2/models/fashion/infer",
                           json={"inputs": [{"name": "input", "datatype": "FP32",
                                             "shape": [1, 784], "data": images[0]}]})
        assert bad.status_code == 400 and "error" in bad.json(), bad.text
        assert session.post(base + "/v2/models/other/infer", json={}).status_code == 404
        print("ok")
        return 0
    finally:
        if server is not None:
            stop_server(server)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
