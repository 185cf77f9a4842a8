#!/usr/bin/python3
"""The peer for serving_bench: the model server users write by hand today.

FastAPI + uvicorn + PyTorch (Debian's python3-fastapi, python3-uvicorn, python3-torch) serving a
TorchScript model over the Open Inference Protocol V2 JSON infer route, reading the JSON body
itself (a pydantic model of 784 floats per request costs ~5x more, measured: 514 vs ~2 500 req/s,
so the lean form is the fair peer). Usage:

    serving_fastapi_ref.py MODEL.pt PORT [WORKERS]

Prints "ready" once uvicorn listens. Each worker runs torch with one thread (OpenBLAS too).
"""
import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI, HTTPException, Request  # noqa: E402

torch.set_num_threads(1)
MODEL_PATH = os.environ.get("SKIFF_REF_MODEL", "")
model = torch.jit.load(MODEL_PATH) if MODEL_PATH else None
if model is not None:
    model.eval()

app = FastAPI()


@app.get("/v2/health/ready")
def ready():
    return {"ready": True}


@app.post("/v2/models/{name}/infer")
async def infer(name: str, request: Request):
    body = await request.json()
    inputs = body.get("inputs") or []
    if not inputs or inputs[0].get("datatype") != "FP32":
        raise HTTPException(status_code=400, detail="one FP32 input expected")
    first = inputs[0]
    try:
        x = torch.tensor(first["data"], dtype=torch.float32).reshape(first["shape"])
    except (KeyError, TypeError, RuntimeError) as e:
        raise HTTPException(status_code=400, detail=str(e))
    with torch.no_grad():
        y = model(x)
    return {
        "model_name": name,
        "id": body.get("id"),
        "outputs": [{"name": "output", "datatype": "FP32", "shape": list(y.shape),
                     "data": y.flatten().tolist()}],
    }


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: serving_fastapi_ref.py MODEL.pt PORT [WORKERS]")
    os.environ["SKIFF_REF_MODEL"] = sys.argv[1]
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    print("ready", flush=True)
    uvicorn.run("serving_fastapi_ref:app", host="127.0.0.1", port=int(sys.argv[2]),
                workers=workers, log_level="warning", access_log=False,
                app_dir=os.path.dirname(os.path.abspath(__file__)))


if __name__ == "__main__":
    main()
