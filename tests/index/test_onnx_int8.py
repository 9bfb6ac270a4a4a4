"""The onnx-int8 embedding backend: same tokens, nearly the same vectors, its own fingerprint,
a whole index built and answered with it, and clear errors for what it cannot run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from index.embed import EmbedderError, make_embedder, onnx_int8
from index.embed.onnx_int8 import OnnxInt8Embedder, pooling_modes, prepare_onnx_int8, read_layout
from index.settings import EmbedSettings, IndexSettings

TEXTS = [
    "2024年，中国与中亚五国的贸易额达到948亿美元，再创历史新高。",
    "What did the leaders sign at the Astana summit?",
    "中亚峰会在阿斯塔纳举行，" * 60,  # longer than 512 tokens: truncated the same way
    "x",
    "  混合 mixed 文本：第二届中国—中亚峰会（阿斯塔纳）  ",
]


@pytest.fixture(scope="module")
def int8_embedder() -> OnnxInt8Embedder:
    """The default model through the int8 backend (exported into the user cache on first use)."""
    embedder = make_embedder(EmbedSettings(backend="onnx-int8"), progress=False)
    assert isinstance(embedder, OnnxInt8Embedder)
    return embedder


@pytest.mark.slow
def test_tokens_are_exactly_those_of_sentence_transformers(int8_embedder, real_embedder) -> None:
    for prompt in ("query: ", "passage: "):
        reference = real_embedder.model.tokenizer(
            [prompt + t for t in TEXTS], truncation=True, max_length=real_embedder.model.max_seq_length
        )["input_ids"]
        assert int8_embedder.token_ids(TEXTS, prompt) == reference
    assert len(int8_embedder.token_ids(TEXTS[2:3])[0]) == 512


@pytest.mark.slow
def test_int8_vectors_point_where_the_fp32_ones_do(int8_embedder, real_embedder) -> None:
    assert int8_embedder.prompts == real_embedder.prompts
    assert int8_embedder.dimension == real_embedder.dimension
    for int8, fp32 in (
        (int8_embedder.embed_queries(TEXTS), real_embedder.embed_queries(TEXTS)),
        (int8_embedder.embed_passages(TEXTS), real_embedder.embed_passages(TEXTS)),
    ):
        assert int8.dtype == np.float32 and int8.shape == fp32.shape
        np.testing.assert_allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)
        cosines = np.sum(int8 * fp32, axis=1)
        assert cosines.min() > 0.98 and cosines.mean() > 0.99, cosines  # recall: bench/index.py --onnx
    # a text's vector does not depend on the texts embedded with it
    one_by_one = np.concatenate([int8_embedder.embed_passages([t]) for t in TEXTS])
    np.testing.assert_array_equal(one_by_one, int8_embedder.embed_passages(TEXTS))
    assert int8_embedder.embed_queries([]).shape == (0, real_embedder.dimension)


@pytest.mark.slow
def test_questions_run_on_one_thread_and_passages_on_every_core(monkeypatch) -> None:
    monkeypatch.setattr(onnx_int8, "_cpu_count", lambda: 2)
    embedder = make_embedder(EmbedSettings(backend="onnx-int8"), progress=False)
    assert embedder.session.get_session_options().intra_op_num_threads == 1
    assert embedder._passage_session is None  # a process that only answers never loads it
    passages = embedder.embed_passages(TEXTS)
    assert embedder._passage_session.get_session_options().intra_op_num_threads == 2
    # the thread count changes no vector: the passages again through the one-thread session
    alone = embedder._encode(TEXTS, embedder._passage_prompt, progress=False)
    np.testing.assert_array_equal(passages, alone)


@pytest.mark.slow
def test_fingerprint_names_the_backend(int8_embedder, real_embedder) -> None:
    assert int8_embedder.model_id == real_embedder.model_id
    assert int8_embedder.fingerprint != real_embedder.fingerprint


@pytest.mark.slow
def test_an_int8_index_answers_and_refuses_the_fp32_model(
    tmp_path, sample_corpus, int8_embedder, real_embedder
) -> None:
    from index.build import build_index
    from index.errors import IndexMismatchError
    from index.store import read_manifest
    from qa import load_bot

    settings = IndexSettings(embed=EmbedSettings(backend="onnx-int8"))
    build_index(sample_corpus, tmp_path / "idx", settings, embedder=int8_embedder, progress=False)
    manifest = read_manifest(tmp_path / "idx")
    assert manifest["model"]["backend"] == "onnx-int8"
    assert manifest["settings"]["embed"]["backend"] == "onnx-int8"

    bot = load_bot(tmp_path / "idx", embedder=int8_embedder)
    answer = bot.ask("2024年中国与中亚五国的贸易额达到多少？")
    assert not answer.abstained
    assert "948亿美元" in answer.passages[0].text

    with pytest.raises(IndexMismatchError, match="rebuild"):
        load_bot(tmp_path / "idx", embedder=real_embedder)


def test_missing_onnxruntime_says_what_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(EmbedderError, match=r"wenda\[onnx\]"):
        make_embedder(EmbedSettings(backend="onnx-int8"), progress=False)


def test_a_model_not_on_disk_is_a_clear_error() -> None:
    with pytest.raises(EmbedderError, match="needs the files of model 'nobody/no-such-model' on disk"):
        make_embedder(EmbedSettings(model="nobody/no-such-model", backend="onnx-int8"), progress=False)


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="backend='int4'"):
        EmbedSettings(backend="int4")


def _st_dir(root: Path, modules: list[str], pooling: dict) -> Path:
    root.mkdir()
    (root / "modules.json").write_text(
        json.dumps(
            [
                {
                    "idx": i,
                    "name": str(i),
                    "path": "" if i == 0 else f"{i}_{kind}",
                    "type": f"sentence_transformers.models.{kind}",
                }
                for i, kind in enumerate(modules)
            ]
        )
    )
    (root / "1_Pooling").mkdir()
    (root / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    (root / "tokenizer.json").write_text(json.dumps({"added_tokens": [{"id": 1, "content": "<pad>"}]}))
    (root / "tokenizer_config.json").write_text(json.dumps({"pad_token": "<pad>"}))
    (root / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 256}))
    return root


def test_layout_of_a_plain_model(tmp_path) -> None:
    root = _st_dir(
        tmp_path / "m",
        ["Transformer", "Pooling", "Normalize"],
        {"embedding_dimension": 8, "pooling_mode": "cls", "include_prompt": False},
    )
    layout = read_layout(root)
    assert layout == {
        "pooling": "cls",
        "include_prompt": False,
        "dimension": 8,
        "max_seq_length": 256,
        "prompts": {},
    }


@pytest.mark.parametrize(
    ("modules", "pooling", "message"),
    [
        (["Transformer", "Pooling", "Dense"], {"embedding_dimension": 8, "pooling_mode": "mean"}, "Dense"),
        (["Transformer", "Pooling"], {"embedding_dimension": 8, "pooling_mode": "lasttoken"}, "lasttoken"),
        (
            ["Transformer", "Pooling"],
            {"embedding_dimension": 8, "pooling_mode": ["mean", "max"]},
            r"mean \+ max",
        ),
    ],
)
def test_layouts_the_backend_cannot_run_are_refused(tmp_path, modules, pooling, message) -> None:
    root = _st_dir(tmp_path / "m", modules, pooling)
    with pytest.raises(EmbedderError, match=f"{message}.*use backend 'torch'"):
        read_layout(root)


def test_pooling_modes_of_old_and_new_configs() -> None:
    assert pooling_modes({"pooling_mode": "mean"}) == ["mean"]
    assert pooling_modes({"pooling_mode": ["cls"]}) == ["cls"]
    legacy = {
        "word_embedding_dimension": 384,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
    }
    assert pooling_modes(legacy) == ["mean"]


def test_a_failed_export_leaves_nothing_behind(tmp_path, monkeypatch) -> None:
    model = _st_dir(
        tmp_path / "m", ["Transformer", "Pooling"], {"embedding_dimension": 8, "pooling_mode": "mean"}
    )

    def broken(model_dir: Path, out: Path) -> Path:
        out.mkdir(parents=True)
        (out / "model-fp32.onnx").write_bytes(b"half")
        raise EmbedderError("export failed halfway")

    monkeypatch.setattr(onnx_int8, "export_int8", broken)
    with pytest.raises(EmbedderError, match="halfway"):
        prepare_onnx_int8(model, progress=False, root=tmp_path / "cache")
    assert [p.name for p in (tmp_path / "cache" / "models").iterdir() if not p.name.endswith(".lock")] == []
