"""Incremental updates: add, replace and remove change exactly the chunks they should, embed only what changed."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from index.build import build_index
from index.errors import IndexMismatchError, UnknownArticleError
from index.settings import IndexSettings, StoreSettings
from index.store import CURRENT, live_generation, load_index
from index.store.keyword import KEYWORD_DIR, KeywordIndex
from index.update import update_index

SAMPLE_ID = "000_40a999470f34a1c1"


class CountingEmbedder:
    """Wraps the fake embedder and records every passage it is asked to embed."""

    def __init__(self, inner):
        self.inner = inner
        self.model_id, self.fingerprint, self.dimension = inner.model_id, inner.fingerprint, inner.dimension
        self.prompts = inner.prompts
        self.texts: list[str] = []

    def embed_queries(self, texts):
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts, progress=False):
        self.texts.extend(texts)
        return self.inner.embed_passages(texts)


def _no_model(settings):
    raise AssertionError("the embedding model was loaded although nothing needed embedding")


@pytest.fixture
def corpus(tmp_path, sample_corpus) -> Path:
    """The sample file (two articles) plus two small Markdown articles."""
    root = tmp_path / "corpus"
    root.mkdir()
    shutil.copy(sample_corpus / f"{SAMPLE_ID}.txt", root)
    (root / "alpha.md").write_text(
        "# 阿尔法新闻\n\n第一段讲的是阿尔法项目的启动。项目在北京举行了开工仪式。\n\n"
        "## 进展\n\n第二段说明项目进展顺利，预计明年完工。\n",
        encoding="utf-8",
    )
    (root / "beta.md").write_text(
        "# 贝塔新闻\n\n贝塔公司发布了新的年度报告。报告显示收入增长了百分之十。\n", encoding="utf-8"
    )
    return root


def _state(root: Path):
    """Chunk id → (article id, vid, vector) of the live index."""
    loaded = load_index(root)
    return {
        c.chunk.id: (c.chunk.article_id, c.vid, loaded.faiss_index.reconstruct(c.vid).copy())
        for c in loaded.chunks
    }, loaded


def _build(corpus: Path, root: Path, embedder, **store) -> None:
    settings = IndexSettings(store=StoreSettings(**store)) if store else IndexSettings()
    build_index(corpus, root, settings, embedder=embedder, progress=False)


def _fresh(corpus: Path, tmp_path: Path, embedder, **store):
    """A full build of `corpus` in a new directory, for comparison."""
    target = tmp_path / f"fresh-{len(list(tmp_path.iterdir()))}"
    _build(corpus, target, embedder, **store)
    return _state(target)


def _assert_same_content(updated, fresh):
    """Same chunk ids, each with the same article and vector (vids may differ)."""
    assert set(updated) == set(fresh)
    for chunk_id, (article_id, _, vector) in fresh.items():
        assert updated[chunk_id][0] == article_id
        np.testing.assert_allclose(updated[chunk_id][2], vector, atol=1e-6)


def test_add_a_new_article_embeds_only_its_chunks(corpus, tmp_path, fake_embedder):
    root = tmp_path / "idx"
    new = corpus / "gamma.md"
    new.write_text("# 伽马新闻\n\n伽马城市举办了国际马拉松比赛。两万名选手参加了比赛。\n", encoding="utf-8")
    staged = tmp_path / "staged"
    staged.mkdir()
    shutil.move(new, staged / "gamma.md")  # not in the corpus yet
    _build(corpus, root, fake_embedder)
    before, _ = _state(root)

    counter = CountingEmbedder(fake_embedder)
    report = update_index(root, add=[staged / "gamma.md"], embedder=counter, progress=False)
    after, _ = _state(root)

    assert report.added == ["gamma"] and not report.replaced and not report.removed
    added = {cid: v for cid, v in after.items() if cid not in before}
    assert {v[0] for v in added.values()} == {"gamma"}
    assert len(counter.texts) == len(added) > 0  # exactly the new chunks were embedded
    for chunk_id, (article_id, vid, vector) in before.items():  # everything else untouched
        assert after[chunk_id][:2] == (article_id, vid)
        np.testing.assert_array_equal(after[chunk_id][2], vector)
    assert "updated in place" in report.faiss
    shutil.move(staged / "gamma.md", corpus / "gamma.md")
    _assert_same_content(after, _fresh(corpus, tmp_path, fake_embedder)[0])


def test_replace_a_changed_article_reembeds_only_changed_chunks(corpus, tmp_path, fake_embedder):
    root = tmp_path / "idx"
    _build(corpus, root, fake_embedder)
    before, _ = _state(root)
    path = corpus / "alpha.md"
    path.write_text(
        path.read_text(encoding="utf-8").replace("预计明年完工", "预计后年完工"), encoding="utf-8"
    )

    counter = CountingEmbedder(fake_embedder)
    report = update_index(root, add=[path], embedder=counter, progress=False)
    after, loaded = _state(root)

    assert report.replaced == ["alpha"] and not report.added and not report.removed
    gone = set(before) - set(after)
    new = set(after) - set(before)
    assert gone and new and {before[c][0] for c in gone} == {after[c][0] for c in new} == {"alpha"}
    assert sorted(counter.texts) == sorted(t for t in counter.texts if "后年" in t)  # only changed passages
    assert len(counter.texts) == len(new)
    for chunk_id in set(before) & set(after):  # kept chunks keep their FAISS id and vector
        assert after[chunk_id][1] == before[chunk_id][1]
        np.testing.assert_array_equal(after[chunk_id][2], before[chunk_id][2])
    assert loaded.faiss_index.ntotal == len(loaded.chunks)
    _assert_same_content(after, _fresh(corpus, tmp_path, fake_embedder)[0])


def test_remove_drops_exactly_the_article_and_embeds_nothing(corpus, tmp_path, fake_embedder):
    root = tmp_path / "idx"
    _build(corpus, root, fake_embedder)
    before, _ = _state(root)

    report = update_index(root, remove=["beta", f"{SAMPLE_ID}#2"], embedder_factory=_no_model, progress=False)
    after, loaded = _state(root)

    assert report.removed == ["beta", f"{SAMPLE_ID}#2"] and report.embedded == 0
    assert set(after) == {c for c, v in before.items() if v[0] not in ("beta", f"{SAMPLE_ID}#2")}
    assert set(loaded.articles) == {"alpha", f"{SAMPLE_ID}#1"}
    for chunk_id, value in after.items():
        assert value[1] == before[chunk_id][1]
        np.testing.assert_array_equal(value[2], before[chunk_id][2])
    (corpus / "beta.md").unlink()
    _assert_same_content(after, _fresh_without_second_sample(corpus, tmp_path, fake_embedder))


def _fresh_without_second_sample(corpus, tmp_path, embedder):
    state, _ = _fresh(corpus, tmp_path, embedder)
    return {c: v for c, v in state.items() if v[0] != f"{SAMPLE_ID}#2"}


def test_keyword_index_is_rebuilt_in_the_same_generation(corpus, tmp_path, fake_embedder):
    root = tmp_path / "idx"
    _build(corpus, root, fake_embedder)
    update_index(root, remove=["alpha"], progress=False)
    loaded = load_index(root)
    keyword = KeywordIndex.load(loaded.path(KEYWORD_DIR))
    assert keyword.num_docs == len(loaded.chunks)
    (corpus / "alpha.md").unlink()
    fresh_root = tmp_path / "fresh"
    _build(corpus, fresh_root, fake_embedder)
    fresh = load_index(fresh_root)
    fresh_keyword = KeywordIndex.load(fresh.path(KEYWORD_DIR))
    position = {c.chunk.id: i for i, c in enumerate(fresh.chunks)}
    for query in ("贝塔公司的收入增长了多少", "中国与中亚五国的贸易额", "阿尔法项目"):
        updated_scores = keyword.scores(query)
        fresh_scores = fresh_keyword.scores(query)
        for i, stored in enumerate(loaded.chunks):
            assert updated_scores[i] == pytest.approx(fresh_scores[position[stored.chunk.id]], rel=1e-5)
    assert not [c for c in loaded.chunks if c.chunk.article_id == "alpha"]


def test_readding_an_unchanged_file_changes_nothing(corpus, tmp_path, fake_embedder):
    root = tmp_path / "idx"
    _build(corpus, root, fake_embedder)
    before = (root / CURRENT).read_text()
    report = update_index(root, add=[corpus / f"{SAMPLE_ID}.txt"], embedder_factory=_no_model, progress=False)
    assert report.unchanged == [f"{SAMPLE_ID}#1", f"{SAMPLE_ID}#2"] and report.embedded == 0
    assert (root / CURRENT).read_text() == before


def test_readding_a_directory_adds_new_files_and_keeps_ids(corpus, tmp_path, fake_embedder):
    root = tmp_path / "idx"
    _build(corpus, root, fake_embedder)
    (corpus / "sub").mkdir()
    (corpus / "sub" / "delta.txt").write_text("德尔塔港口今年吞吐量创新高。", encoding="utf-8")
    counter = CountingEmbedder(fake_embedder)
    report = update_index(root, add=[corpus], embedder=counter, progress=False)
    assert report.added == ["sub/delta"]  # ids relative to the corpus the index was built from
    assert sorted(report.unchanged) == sorted(["alpha", "beta", f"{SAMPLE_ID}#1", f"{SAMPLE_ID}#2"])
    assert len(counter.texts) == 1


def test_a_file_that_lost_an_article_loses_it_in_the_index(corpus, tmp_path, fake_embedder):
    root = tmp_path / "idx"
    _build(corpus, root, fake_embedder)
    path = corpus / f"{SAMPLE_ID}.txt"
    first_only = (
        path.read_text(encoding="utf-8").split("（原载6月30日《人民日报》）")[0]
        + "（原载6月30日《人民日报》）\n"
    )
    path.write_text(first_only, encoding="utf-8")
    report = update_index(root, add=[path], embedder_factory=_no_model, progress=False)
    # the file now holds one article, whose id is the file's; the old #1 and #2 are superseded
    assert report.added == [SAMPLE_ID]
    assert report.removed == [f"{SAMPLE_ID}#1", f"{SAMPLE_ID}#2"]
    assert set(load_index(root).articles) == {"alpha", "beta", SAMPLE_ID}


def test_remove_of_an_unknown_id_is_a_named_error_and_changes_nothing(corpus, tmp_path, fake_embedder):
    root = tmp_path / "idx"
    _build(corpus, root, fake_embedder)
    before = (root / CURRENT).read_text()
    with pytest.raises(UnknownArticleError, match=rf"no article '{SAMPLE_ID}'.*did you mean '{SAMPLE_ID}#1'"):
        update_index(root, remove=[SAMPLE_ID], progress=False)
    assert (root / CURRENT).read_text() == before


def test_update_with_another_model_is_refused(corpus, tmp_path, fake_embedder):
    root = tmp_path / "idx"
    _build(corpus, root, fake_embedder)
    other = CountingEmbedder(fake_embedder)
    other.fingerprint = "changed"
    with pytest.raises(IndexMismatchError, match="rebuild"):
        update_index(root, add=[corpus / "beta.md"], embedder=other, progress=False)


def test_hnsw_adds_in_place_and_is_rebuilt_from_stored_vectors_on_remove(corpus, tmp_path, fake_embedder):
    root = tmp_path / "idx"
    _build(corpus, root, fake_embedder, index_type="hnsw", hnsw_m=8)
    manifest = load_index(root).manifest
    assert manifest["faiss"]["type"] == "hnsw" and manifest["faiss"]["m"] == 8
    extra = tmp_path / "extra.md"
    extra.write_text("# 新增\n\n新增的一篇短文。\n", encoding="utf-8")
    counter = CountingEmbedder(fake_embedder)
    added = update_index(root, add=[extra], embedder=counter, progress=False)
    assert "updated in place" in added.faiss and len(counter.texts) == 1
    before, _ = _state(root)
    removed = update_index(root, remove=["alpha"], embedder_factory=_no_model, progress=False)
    assert "rebuilt from stored vectors" in removed.faiss
    after, loaded = _state(root)
    assert loaded.manifest["faiss"]["type"] == "hnsw"
    assert set(after) == {c for c, v in before.items() if v[0] != "alpha"}
    for chunk_id, value in after.items():
        np.testing.assert_array_equal(value[2], before[chunk_id][2])
    # every chunk is still found by its own vector
    for stored in loaded.chunks[:10]:
        vector = loaded.faiss_index.reconstruct(stored.vid).reshape(1, -1)
        _, ids = loaded.faiss_index.search(vector, 1)
        assert loaded.faiss_index.reconstruct(int(ids[0][0])) @ vector[0] == pytest.approx(1.0, abs=1e-5)


def test_auto_index_type_switches_to_hnsw_when_an_update_crosses_the_threshold(
    corpus, tmp_path, fake_embedder
):
    root = tmp_path / "idx"
    (corpus / f"{SAMPLE_ID}.txt").unlink()
    _build(corpus, root, fake_embedder, hnsw_threshold=5)
    assert load_index(root).manifest["faiss"]["type"] == "flat"
    report = update_index(root, add=[corpus], progress=False, embedder=fake_embedder)
    assert report.added == [] and "unchanged" in report.faiss  # nothing new under the corpus itself
    sample = Path(__file__).resolve().parents[2] / "index" / "data" / "sample" / f"{SAMPLE_ID}.txt"
    report = update_index(root, add=[sample], embedder=fake_embedder, progress=False)
    manifest = load_index(root).manifest
    assert manifest["faiss"]["type"] == "hnsw" and manifest["faiss"]["chosen"] == "auto"
    assert "type changed with size" in report.faiss


def test_updated_index_passes_every_load_check(corpus, tmp_path, fake_embedder):
    root = tmp_path / "idx"
    _build(corpus, root, fake_embedder)
    update_index(root, remove=["beta"], progress=False)
    (tmp_path / "more.md").write_text("# 更多\n\n更多内容在这里。\n", encoding="utf-8")
    update_index(root, add=[tmp_path / "more.md"], embedder=fake_embedder, progress=False)
    loaded = load_index(root, fake_embedder.model_id, fake_embedder.fingerprint)  # checksums, counts, ids
    vids = [c.vid for c in loaded.chunks]
    assert len(set(vids)) == len(vids) and loaded.manifest["next_vid"] > max(vids)
    for stored in loaded.chunks:
        article = loaded.articles[stored.chunk.article_id]
        assert article.text[stored.chunk.start : stored.chunk.end] == stored.chunk.text
    generations = [p.name for p in root.iterdir() if p.name.startswith("gen-")]
    assert live_generation(root).name in generations and len(generations) <= 2


def test_a_file_below_the_corpus_gets_the_id_a_build_would_give_it(corpus, tmp_path, fake_embedder):
    root = tmp_path / "idx"
    _build(corpus, root, fake_embedder)
    (corpus / "sub").mkdir()
    (corpus / "sub" / "delta.txt").write_text("德尔塔港口今年吞吐量创新高。", encoding="utf-8")
    assert update_index(
        root, add=[corpus / "sub" / "delta.txt"], embedder=fake_embedder, progress=False
    ).added == ["sub/delta"]
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("别处的一篇文章。", encoding="utf-8")
    assert update_index(root, add=[elsewhere], embedder=fake_embedder, progress=False).added == ["elsewhere"]
    rebuilt = tmp_path / "rebuilt"
    _build(corpus, rebuilt, fake_embedder)
    assert "sub/delta" in load_index(rebuilt).articles


def test_metadata_only_change_is_written_without_embedding(corpus, tmp_path, fake_embedder):
    root = tmp_path / "idx"
    _build(corpus, root, fake_embedder)
    before = (root / CURRENT).read_text()
    (corpus / "beta.meta.toml").write_text('edition = "晚间版"\n', encoding="utf-8")
    report = update_index(root, add=[corpus / "beta.md"], embedder_factory=_no_model, progress=False)
    assert report.unchanged == ["beta"] and report.embedded == 0
    assert (root / CURRENT).read_text() != before
    assert load_index(root).articles["beta"].metadata["edition"] == "晚间版"
