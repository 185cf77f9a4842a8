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
import shutil
import struct
import sys
import tempfile
import urllib.error
import urllib.request

from serving_client_util import (SKIP, read_test_split, start_server, stop_server,
                                  train_tiny_mlp)


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
        model = train_tiny_mlp(skiff_ml, work, 200)
        if model is None:
            return SKIP
        server, http_port, grpc_port = start_server(
            server_bin, ["--model-dir", model, "--address", "127.0.0.1", "--http-port", "0",
                         "--grpc-port", "0", "--max-batch-size", "8", "--max-latency-us", "1000"],
            os.path.join(work, "server.log"), want_grpc=True)
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

        images, _ = read_test_split(os.path.join(work, "data"))
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
        rc = stop_server(server)
        server = None
        assert rc == 0, "SIGTERM should drain and exit 0, got %d:\n%s" % (
            rc, open(os.path.join(work, "server.log")).read())
        print("ok")
        return 0
    finally:
        if server is not None:
            stop_server(server)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
