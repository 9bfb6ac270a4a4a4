"""The `onnx-int8` embedding backend: the same model, exported to ONNX and quantized to int8.

On this kind of CPU (AVX2, no AVX-512/VNNI) the transformer is compute-bound, so int8 weights
are the main lever for indexing speed. sentence-transformers' own `backend="onnx"` needs
`optimum`, whose releases pin an older transformers, so this does the same three steps with
torch and onnxruntime directly:

1. export the model's transformer with `torch.onnx.export` (once per model, cached);
2. quantize its weights with `onnxruntime.quantization.quantize_dynamic` (int8, per
   channel, `reduce_range` so it stays exact on CPUs without VNNI);
3. at run time, tokenize with the model's own `tokenizer.json`, run onnxruntime, and pool
   and normalise in numpy as the model's sentence-transformers modules say.

Only models made of Transformer → Pooling (→ Normalize) modules are supported; anything else
gets a clear error that names the `torch` backend. Needs the `onnx` extra:
`pip install "wenda[onnx]"` (onnxruntime and onnx).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import numpy as np

from index.embed.base import PromptedEmbedder, model_fingerprint, resolve_model_path
from index.embed.hf import quiet_transformers
from index.errors import EmbedderError
from index.files import build_once, log, staged_dir, write_json
from index.settings import EmbedSettings, cache_dir

BACKEND: Literal["onnx-int8"] = "onnx-int8"
EXPORT_VERSION = 1  # bump when the export or quantization recipe changes
EXPORT_RECORD = "export.json"
POOLING_MODES = ("mean", "cls", "max")


class OnnxInt8Embedder(PromptedEmbedder):
    """An Embedder that runs an int8-quantized ONNX export of a sentence-transformers model."""

    backend = BACKEND
    query_threads = 1  # the threads embedding a question takes (its session's)

    def __init__(self, settings: EmbedSettings | None = None, progress: bool = True) -> None:
        ort = _import_onnxruntime()
        self.settings = settings or EmbedSettings(backend=BACKEND)
        self.model_id = self.settings.model
        source = _local_model_dir(resolve_model_path(self.model_id, progress=progress), self.model_id)
        self.layout = read_layout(source)
        # the export recipe's version is part of the identity: a new recipe gives other vectors
        self.fingerprint = model_fingerprint(
            self.model_id, str(source), backend=f"{BACKEND}-v{EXPORT_VERSION}"
        )
        exported = prepare_onnx_int8(source, progress=progress)
        self._model = exported / "model.onnx"
        self._ort = ort
        # a question runs on one thread: a second one saves nothing on twenty tokens (3.0 against
        # 2.9 ms), and onnxruntime's pool threads spin after each run, taking the core that a
        # search run beside the embedding, or right after it, needs (bench/RESULTS.md)
        self.session = self._load_session(1)
        self._passage_session: Any = None if _cpu_count() > 1 else self.session
        self._passage_lock = threading.Lock()
        self._inputs = {i.name for i in self.session.get_inputs()}
        self.max_length = min(self.settings.max_seq_length, self.layout["max_seq_length"])
        self.tokenizer = _load_tokenizer(source, self.max_length)
        self.dimension = int(self.layout["dimension"])
        self.use_prompts(self.layout["prompts"], self.settings)

    def token_ids(self, texts: Sequence[str], prompt: str | None = None) -> list[list[int]]:
        """The token ids the model sees for `texts` (prompt included, truncated)."""
        return [e.ids for e in self._encodings(texts, prompt)]

    def _encodings(self, texts: Sequence[str], prompt: str | None) -> list[Any]:
        return self.tokenizer.encode_batch([(prompt or "") + t for t in texts])

    def _load_session(self, threads: int) -> Any:
        options = self._ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            return self._ort.InferenceSession(str(self._model), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise EmbedderError(
                f"cannot load the int8 model in {self._model.parent} ({type(exc).__name__}: {exc}); "
                f"delete that directory to export it again"
            ) from exc

    def embed_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Embed passages (with the model's passage prompt) on every core: CMRC passages of a few
        hundred tokens embed 1.4 times as fast on two threads as on one (60 in 4.3 against 5.9 s)."""
        with self._passage_lock:
            if self._passage_session is None:
                self._passage_session = self._load_session(_cpu_count())
        return self._encode(texts, self._passage_prompt, progress=progress, session=self._passage_session)

    def _encode(
        self, texts: Sequence[str], prompt: str | None, progress: bool, session: Any = None
    ) -> np.ndarray:
        """One text per model call: dynamic int8 quantization scales activations over the whole
        call, so in a batch a vector would depend on its companions (cosine ~0.997 to itself
        alone); alone, nothing is padded, and on a 2-core AVX2 CPU it is as fast as batches of
        8 (about 6,900 against 6,500 tokens/s on CMRC chunks)."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        skip = self._prompt_tokens(prompt)
        bar = _progress_bar(len(texts), progress)
        for row, encoding in enumerate(self._encodings(texts, prompt)):
            out[row] = self._run(session or self.session, encoding.ids, skip)
            bar.update(1)
        bar.close()
        return out

    def _run(self, session: Any, ids: list[int], skip: int) -> np.ndarray:
        feed = {
            "input_ids": np.asarray([ids], dtype=np.int64),
            "attention_mask": np.ones((1, len(ids)), dtype=np.int64),
        }
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(feed["input_ids"])
        hidden = session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0][0]
        if 0 < skip < len(hidden) and self.layout["pooling"] != "cls":
            hidden = hidden[skip:]  # the prompt is not pooled (include_prompt false)
        pooled = _pool(hidden, self.layout["pooling"])
        return pooled / max(float(np.linalg.norm(pooled)), 1e-12)

    def _prompt_tokens(self, prompt: str | None) -> int:
        """How many leading tokens to leave out of pooling (as sentence-transformers does)."""
        if not prompt or self.layout["include_prompt"]:
            return 0
        return len(self.tokenizer.encode(prompt).ids) - 1  # the prompt's tokens without the end token


def _pool(hidden: np.ndarray, mode: str) -> np.ndarray:
    """Pool one text's token vectors (tokens × dimension)."""
    if mode == "cls":
        return hidden[0]
    if mode == "max":
        return hidden.max(axis=0)
    return hidden.mean(axis=0)


def read_layout(model_dir: Path) -> dict[str, Any]:
    """What the backend needs from a sentence-transformers directory, checked.

    Raises:
        EmbedderError: the model has modules this backend does not run.
    """
    try:
        modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        if kinds[:2] != ["Transformer", "Pooling"] or any(k != "Normalize" for k in kinds[2:]):
            raise EmbedderError(
                f"the onnx-int8 backend runs Transformer → Pooling (→ Normalize) models; {model_dir} has "
                f"{' → '.join(kinds)}: use backend 'torch'"
            )
        pooling = json.loads((model_dir / modules[1]["path"] / "config.json").read_text(encoding="utf-8"))
        bert = _read_json(model_dir / "sentence_bert_config.json")
        st_config = _read_json(model_dir / "config_sentence_transformers.json")
        tok_config = _read_json(model_dir / "tokenizer_config.json")
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise EmbedderError(f"cannot read the sentence-transformers layout of {model_dir} ({exc})") from exc
    modes = pooling_modes(pooling)
    if len(modes) != 1 or modes[0] not in POOLING_MODES:
        raise EmbedderError(
            f"the onnx-int8 backend pools by one of {', '.join(POOLING_MODES)}; {model_dir} asks "
            f"for {' + '.join(modes) or 'nothing'}: use backend 'torch'"
        )
    if not (model_dir / "tokenizer.json").is_file():
        raise EmbedderError(
            f"the onnx-int8 backend needs a fast tokenizer file, {model_dir / 'tokenizer.json'}"
        )
    return {
        "pooling": modes[0],
        "include_prompt": bool(pooling.get("include_prompt", True)),
        "dimension": int(pooling.get("embedding_dimension") or pooling["word_embedding_dimension"]),
        "max_seq_length": int(bert.get("max_seq_length") or tok_config.get("model_max_length") or 512),
        "prompts": dict(st_config.get("prompts") or {}),
    }


def pooling_modes(config: dict[str, Any]) -> list[str]:
    """The pooling modes of a Pooling config: sentence-transformers 6 (`pooling_mode`) or older
    (`pooling_mode_mean_tokens`, `pooling_mode_cls_token`, … flags)."""
    if "pooling_mode" in config:
        mode = config["pooling_mode"]
        return [mode] if isinstance(mode, str) else list(mode)
    legacy = {
        "pooling_mode_cls_token": "cls",
        "pooling_mode_max_tokens": "max",
        "pooling_mode_mean_tokens": "mean",
        "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
        "pooling_mode_weightedmean_tokens": "weightedmean",
        "pooling_mode_lasttoken": "lasttoken",
    }
    return [name for key, name in legacy.items() if config.get(key)]


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _load_tokenizer(model_dir: Path, max_length: int):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_length)
    return tokenizer


def _local_model_dir(path: str, model_id: str) -> Path:
    """The model's files on disk: a directory, or a hub name already in the local cache."""
    if Path(path).is_dir():
        return Path(path)
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(path, local_files_only=True))
    except Exception as exc:  # not cached (offline), or not a model name at all
        raise EmbedderError(
            f"the onnx-int8 backend needs the files of model {model_id!r} on disk; give a local "
            f"sentence-transformers directory ({type(exc).__name__}: {exc})"
        ) from exc


def _import_onnxruntime():
    try:
        import onnxruntime
    except ImportError as exc:
        raise EmbedderError(
            "the onnx-int8 backend needs onnxruntime and onnx: pip install 'wenda[onnx]' "
            "(or pip install onnxruntime onnx), or use backend 'torch'"
        ) from exc
    return onnxruntime


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _progress_bar(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="Embedding (onnx-int8)", unit="chunk", disable=not enabled)


# ---------------------------------------------------------------------------------------------
# Export and quantization (once per model, cached next to the converted default model)


def export_key(model_dir: Path) -> str:
    """Identifies a model's files (configs and weights by size and time) and the export recipe."""
    digest = hashlib.sha256(f"v{EXPORT_VERSION}|{model_dir.resolve()}".encode())
    for path in sorted(model_dir.rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.relative_to(model_dir)}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def prepare_onnx_int8(model_dir: Path, progress: bool = True, root: Path | None = None) -> Path:
    """Return the directory of the int8 ONNX export of `model_dir`, exporting it on first use.

    The export is written to a temporary directory and renamed into place, under a file lock,
    so an interrupted export never leaves a half-written model behind.
    """
    base = (root or cache_dir()) / "models"
    base.mkdir(parents=True, exist_ok=True)
    target = base / f"onnx-int8-{model_dir.name}-{export_key(model_dir)}"

    def export() -> None:
        log(
            progress,
            f"first use of the onnx-int8 backend: exporting {model_dir.name} to int8 ONNX "
            "(one-off, about 20 s)",
        )
        with staged_dir(target) as scratch:
            export_int8(model_dir, scratch / target.name)

    return build_once(target, lambda t: (t / EXPORT_RECORD).is_file(), export)


def export_int8(model_dir: Path, out: Path) -> Path:
    """Export the transformer of `model_dir` to ONNX, quantize it to int8 into `out`/model.onnx."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from sentence_transformers import SentenceTransformer

    out.mkdir(parents=True)
    with quiet_transformers():
        model = SentenceTransformer(str(model_dir), device="cpu")
    transformer: Any = model[0].auto_model
    transformer.eval()
    sample = model.tokenizer(["query: 你好，世界 hello"], return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.inner(**dict(zip(names, inputs))).last_hidden_state

    axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]}
    fp32 = out / "model-fp32.onnx"
    try:
        with torch.no_grad(), _quiet_export():
            torch.onnx.export(
                LastHiddenState(transformer),
                tuple(sample[n] for n in names),
                str(fp32),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
            quantize_dynamic(
                str(fp32),
                str(out / "model.onnx"),
                weight_type=QuantType.QInt8,
                per_channel=True,
                reduce_range=True,
            )
    except Exception as exc:  # torch.onnx and onnxruntime raise many kinds
        raise EmbedderError(
            f"cannot export {model_dir} to int8 ONNX ({type(exc).__name__}: {exc}); use backend 'torch'"
        ) from exc
    fp32.unlink()
    record = {
        "source": str(model_dir),
        "export_version": EXPORT_VERSION,
        "weights": "int8 dynamic, per channel, reduce_range",
        "opset": 17,
        "inputs": names,
    }
    write_json(out / EXPORT_RECORD, record)
    return out


@contextmanager
def _quiet_export() -> Iterator[None]:
    """Hide the tracer's warnings and the quantizer's advice to pre-process: the recipe is
    fixed and its recall loss measured (bench/indexing.py --onnx)."""
    previous, handlers = logging.root.manager.disable, logging.root.handlers[:]
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(previous)
        logging.root.handlers[:] = handlers  # logging.warning() installs a root handler as it goes
