"""Shared by the independent python clients of skiff-model-server (v2_client_test.py,
grpc_client_test.py): running skiff-ml, reading a prepared test split, starting the server and
reading its ports from its log."""
import os
import re
import signal
import struct
import subprocess
import sys
import time

SKIP = 77  # CTest's SKIP_RETURN_CODE for these tests


def run(args, log):
    with open(log, "w") as out:
        rc = subprocess.call(args, stdout=out, stderr=subprocess.STDOUT)
    if rc != 0:
        sys.exit("%s failed (%d):\n%s" % (" ".join(args), rc, open(log).read()))


def train_tiny_mlp(skiff_ml, work, limit):
    """Prepares `limit` Fashion-MNIST images into work/data and trains one epoch of the MLP into
    work/models/fashion; returns the model directory, or None when the data set is missing."""
    log = os.path.join(work, "prepare.log")
    with open(log, "w") as out:
        rc = subprocess.call([skiff_ml, "prepare", "--out", os.path.join(work, "data"),
                              "--limit", str(limit)], stdout=out, stderr=subprocess.STDOUT)
    if rc != 0:
        text = open(log).read()
        if "Fashion-MNIST" in text:
            print("skipped: " + text.strip())
            return None
        sys.exit("prepare failed:\n" + text)
    model = os.path.join(work, "models", "fashion")
    run([skiff_ml, "train", "--data", os.path.join(work, "data"), "--out", model,
         "--model", "mlp", "--epochs", "1", "--threads", "1"], os.path.join(work, "train.log"))
    return model


def read_test_split(data_dir):
    """The dataset artifact's test split (24-byte header, uint8 pixels, int32 labels) as float
    images and labels."""
    with open(os.path.join(data_dir, "test.bin"), "rb") as f:
        blob = f.read()
    assert blob[:8] == b"SKMLDS01", blob[:8]
    count, features, dtype = struct.unpack_from("<QII", blob, 8)
    assert features == 784 and dtype == 1
    pixels = blob[24:24 + count * features]
    labels = struct.unpack_from("<%di" % count, blob, 24 + count * features)
    images = [[float(p) for p in pixels[i * 784:(i + 1) * 784]] for i in range(count)]
    return images, list(labels)


def start_server(server_bin, args, log_path, want_grpc=False):
    """Starts skiff-model-server with `args` and waits for its ready line; returns the process and
    its HTTP port (and gRPC port with want_grpc)."""
    log = open(log_path, "w")
    server = subprocess.Popen([server_bin] + args, stdout=log, stderr=subprocess.STDOUT)
    for _ in range(300):
        text = open(log_path).read()
        h = re.search(r"^skiff-model-server listening on 127\.0\.0\.1:(\d+)", text, re.M)
        g = re.search(r"^skiff-model-server grpc listening on 127\.0\.0\.1:(\d+)", text, re.M)
        if h and (g or not want_grpc) and "skiff-model-server ready" in text:
            ports = (int(h.group(1)), int(g.group(1))) if want_grpc else (int(h.group(1)),)
            return (server,) + ports
        if server.poll() is not None:
            sys.exit("server exited:\n" + text)
        time.sleep(0.1)
    server.kill()
    sys.exit("server did not get ready:\n" + open(log_path).read())


def stop_server(server):
    """SIGTERM, then up to 30 s for the server to drain and exit (killed after that); its exit
    code."""
    server.send_signal(signal.SIGTERM)
    try:
        return server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        return server.wait()
