#!/usr/bin/env python3
"""Independent client test of skiff-model-server's V2 gRPC API: Debian's python3-grpcio with stubs
that grpc_tools.protoc generates here, at test time, from src/serving/grpc_inference.proto. Its
ModelInfer answers (typed FP32 contents and raw_input_contents) must equal the REST answers for
the same images (REST through urllib, so the test needs nothing but grpcio and grpc-tools).

Usage: grpc_client_test.py SKIFF_ML SKIFF_MODEL_SERVER PROTO
Exit 77 (skipped): grpcio/grpc-tools are not installed, or no Fashion-MNIST.
"""
import importlib
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SKIP = 77


def run(args, log):
    with open(log, "w") as out:
        rc = subprocess.call(args, stdout=out, stderr=subprocess.STDOUT)
    if rc != 0:
        sys.exit("%s failed (%d):\n%s" % (" ".join(args), rc, open(log).read()))


def read_test_split(data_dir):
    """The dataset artifact's test split: 24-byte header, uint8 pixels, int32 labels."""
    with open(os.path.join(data_dir, "test.bin"), "rb") as f:
        blob = f.read()
    assert blob[:8] == b"SKMLDS01", blob[:8]
    count, features, dtype = struct.unpack_from("<QII", blob, 8)
    assert features == 784 and dtype == 1
    pixels = blob[24:24 + count * features]
    return [[float(p) for p in pixels[i * 784:(i + 1) * 784]] for i in range(count)]


def compile_stubs(proto, out_dir):
    """The python modules of the .proto, as any client of the protocol would generate them."""
    from grpc_tools import protoc
    os.makedirs(out_dir)
    include = os.path.dirname(os.path.abspath(proto))
    args = ["grpc_tools.protoc", "-I" + include, "--python_out=" + out_dir,
            "--grpc_python_out=" + out_dir, os.path.abspath(proto)]
    if protoc.main(args) != 0:
        sys.exit("grpc_tools.protoc failed on " + proto)
    sys.path.insert(0, out_dir)
    name = os.path.splitext(os.path.basename(proto))[0]
    return importlib.import_module(name + "_pb2"), importlib.import_module(name + "_pb2_grpc")


def rest_infer(base, image):
    body = json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 1, 28, 28],
                                   "data": image}]}).encode()
    req = urllib.request.Request(base + "/v2/models/fashion/infer", data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)["outputs"][0]["data"]


def main():
    skiff_ml, server_bin, proto = sys.argv[1], sys.argv[2], sys.argv[3]
    try:
        import grpc  # noqa: F401
        import grpc_tools  # noqa: F401
    except ImportError as e:
        print("skipped: %s (install python3-grpcio and python3-grpc-tools)" % e)
        return SKIP
    import grpc

    work = tempfile.mkdtemp(prefix="skiff-grpc-client-")
    server = None
    try:
        pb, pb_grpc = compile_stubs(proto, os.path.join(work, "stubs"))
        with open(os.path.join(work, "prepare.log"), "w") as out:
            rc = subprocess.call([skiff_ml, "prepare", "--out", os.path.join(work, "data"),
                                  "--limit", "200"], stdout=out, stderr=subprocess.STDOUT)
        if rc != 0:
            log = open(os.path.join(work, "prepare.log")).read()
            if "Fashion-MNIST" in log:
                print("skipped: " + log.strip())
                return SKIP
            sys.exit("prepare failed:\n" + log)
        model = os.path.join(work, "models", "fashion")
        run([skiff_ml, "train", "--data", os.path.join(work, "data"), "--out", model,
             "--model", "mlp", "--epochs", "1", "--threads", "1"], os.path.join(work, "train.log"))

        log_path = os.path.join(work, "server.log")
        log = open(log_path, "w")
        server = subprocess.Popen([server_bin, "--model-dir", model, "--address", "127.0.0.1",
                                   "--http-port", "0", "--grpc-port", "0", "--max-batch-size", "8",
                                   "--max-latency-us", "1000"], stdout=log, stderr=subprocess.STDOUT)
        http_port = grpc_port = None
        for _ in range(300):
            text = open(log_path).read()
            h = re.search(r"^skiff-model-server listening on 127\.0\.0\.1:(\d+)", text, re.M)
            g = re.search(r"^skiff-model-server grpc listening on 127\.0\.0\.1:(\d+)", text, re.M)
            if h and g and "skiff-model-server ready" in text:
                http_port, grpc_port = int(h.group(1)), int(g.group(1))
                break
            if server.poll() is not None:
                sys.exit("server exited:\n" + text)
            time.sleep(0.1)
        assert grpc_port, open(log_path).read()
        base = "http://127.0.0.1:%d" % http_port
        channel = grpc.insecure_channel("127.0.0.1:%d" % grpc_port)
        stub = pb_grpc.GRPCInferenceServiceStub(channel)

        assert stub.ServerLive(pb.ServerLiveRequest()).live
        assert stub.ServerReady(pb.ServerReadyRequest()).ready
        assert stub.ModelReady(pb.ModelReadyRequest(name="fashion")).ready
        meta = stub.ModelMetadata(pb.ModelMetadataRequest(name="fashion"))
        assert meta.name == "fashion" and list(meta.versions) == ["1"], meta
        assert meta.inputs[0].name == "input" and meta.inputs[0].datatype == "FP32", meta
        assert list(meta.inputs[0].shape) == [-1, 1, 28, 28], meta
        assert list(meta.outputs[0].shape) == [-1, 10], meta

        images = read_test_split(os.path.join(work, "data"))
        n = min(len(images), 100)
        for i in range(n):
            want = rest_infer(base, images[i])
            # Typed contents: fp32_contents in, fp32_contents out.
            typed = pb.ModelInferRequest(model_name="fashion", id="typed-%d" % i)
            t = typed.inputs.add(name="input", datatype="FP32", shape=[1, 1, 28, 28])
            t.contents.fp32_contents.extend(images[i])
            out = stub.ModelInfer(typed)
            assert out.id == "typed-%d" % i and out.model_name == "fashion", out
            assert list(out.outputs[0].shape) == [1, 10] and out.outputs[0].datatype == "FP32"
            got_typed = list(out.outputs[0].contents.fp32_contents)
            # Raw: little-endian bytes in raw_input_contents, raw_output_contents back.
            raw = pb.ModelInferRequest(model_name="fashion")
            raw.inputs.add(name="input", datatype="FP32", shape=[1, 1, 28, 28])
            raw.raw_input_contents.append(struct.pack("<784f", *images[i]))
            raw.outputs.add(name="output")
            out = stub.ModelInfer(raw)
            assert len(out.raw_output_contents) == 1 and not out.outputs[0].HasField("contents")
            got_raw = list(struct.unpack("<10f", out.raw_output_contents[0]))
            for got in (got_typed, got_raw):
                # The same model on the same server: equal but for batched-GEMM rounding.
                for a, b in zip(got, want):
                    if abs(a - b) > 1e-4 * max(1.0, abs(b)):
                        sys.exit("image %d: gRPC %s, REST %s" % (i, got, want))

        def code_of(request):
            try:
                stub.ModelInfer(request)
            except grpc.RpcError as e:
                return e.code()
            return grpc.StatusCode.OK

        bad_shape = pb.ModelInferRequest(model_name="fashion")
        bad_shape.inputs.add(name="input", datatype="FP32", shape=[1, 784])
        bad_shape.raw_input_contents.append(struct.pack("<784f", *images[0]))
        assert code_of(bad_shape) == grpc.StatusCode.INVALID_ARGUMENT
        short = pb.ModelInferRequest(model_name="fashion")
        short.inputs.add(name="input", datatype="FP32", shape=[1, 1, 28, 28])
        short.raw_input_contents.append(b"\0" * 100)
        assert code_of(short) == grpc.StatusCode.INVALID_ARGUMENT
        assert code_of(pb.ModelInferRequest(model_name="other")) == grpc.StatusCode.NOT_FOUND
        print("gRPC and REST agree on %d images (typed and raw contents)" % n)
        channel.close()
        server.send_signal(signal.SIGTERM)
        rc = server.wait(timeout=30)
        server = None
        assert rc == 0, "SIGTERM should drain and exit 0, got %d:\n%s" % (rc, open(log_path).read())
        print("ok")
        return 0
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
