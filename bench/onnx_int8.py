"""Prototype (bench only): the embedding model as ONNX Runtime int8, without optimum.

sentence-transformers' `backend="onnx"` and its `export_dynamic_quantized_onnx_model`
need `optimum`, whose current release pins transformers 4.x (this project runs 5.x), so
this prototype does the same three steps by hand: torch.onnx export of the transformer,
onnxruntime dynamic int8 quantization (AVX2-safe: reduce_range, per-channel), then mean
pooling and L2 normalisation in numpy. onnxruntime/onnx are looked up in
/tmp/bench-ort (pip install --target) if not installed in the venv.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

ORT_TARGET = "/tmp/bench-ort"
if os.path.isdir(ORT_TARGET) and ORT_TARGET not in sys.path:
    sys.path.append(ORT_TARGET)  # appended: the venv's numpy must win


def export_int8(out: Path) -> Path:
    """Export the default model to ONNX and quantize it to int8; return the .onnx path."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from index.embed import SentenceTransformerEmbedder

    out.mkdir(parents=True, exist_ok=True)
    st = SentenceTransformerEmbedder(progress=False).model
    hf = st[0].auto_model.eval()
    sample = st.tokenizer(["query: 你好，世界"], return_tensors="pt")
    names = list(sample.keys())
    fp32 = out / "model.onnx"
    axes = {n: {0: "batch", 1: "seq"} for n in names}
    axes["last_hidden_state"] = {0: "batch", 1: "seq"}

    class Wrapper(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *inputs):
            return self.inner(**dict(zip(names, inputs))).last_hidden_state

    with torch.no_grad():
        torch.onnx.export(Wrapper(hf), tuple(sample[n] for n in names), str(fp32), input_names=names,
                          output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=17, dynamo=False)
    int8 = out / "model_int8.onnx"
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True)
    return int8


class OnnxEmbedder:
    """Mean-pooled, normalised embeddings from an ONNX model, in length-sorted batches."""

    def __init__(self, path: Path, tokenizer, max_length: int = 512, batch_size: int = 32, threads: int = 0) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or (os.cpu_count() or 1)
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.batch_size = batch_size

    def encode(self, texts: list[str], prompt: str = "") -> np.ndarray:
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), 0), dtype=np.float32)
        parts = []
        for start in range(0, len(texts), self.batch_size):
            batch = [prompt + texts[i] for i in order[start : start + self.batch_size]]
            enc = self.tokenizer(batch, padding=True, truncation=True, max_length=self.max_length, return_tensors="np")
            feed = {k: v.astype(np.int64) for k, v in enc.items() if k in self.inputs}
            hidden = self.session.run(None, feed)[0]
            mask = enc["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(1) / np.clip(mask.sum(1), 1e-9, None)
            parts.append(pooled / np.linalg.norm(pooled, axis=1, keepdims=True))
        out = np.zeros((len(texts), parts[0].shape[1]), dtype=np.float32)
        out[order] = np.concatenate(parts)
        return out
