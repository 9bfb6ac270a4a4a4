"""The Milvus store against Milvus Lite, started here as a local gRPC server on 127.0.0.1 (the API
a cluster speaks): ranks and citations, updates by chunk id, the alias switch and what a failed
writer leaves. Scores are never compared: Milvus Lite scores BM25 on its own scale."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("pymilvus", reason="the milvus extra is not installed: pip install 'wenda[milvus]'")

import index.store.generations
from index.__main__ import main as index_main
from index.build import build_index
from index.errors import MissingExtraError
from index.settings import IndexSettings, StoreSettings
from index.store import CURRENT, load_index
from index.store.leases import Lease
from index.store.milvus import connect, read_token, route_counts
from index.update import update_index
from qa.bot import Bot

ARTICLES = [
    (
        "panda",
        "大熊猫",
        (
            "大熊猫是中国特有的熊科动物，主要栖息在四川、陕西和甘肃的山区竹林。\n"
            "成年大熊猫每天要吃12到38公斤竹子，一天中有一半以上的时间都在进食。\n"
            "野生大熊猫的寿命一般为18到20岁，圈养条件下可以超过30岁。"
        ),
    ),
    (
        "yangtze",
        "长江",
        (
            "长江全长约6300公里，是亚洲第一长河，发源于青藏高原的唐古拉山脉。\n"
            "长江干流流经青海、西藏、四川、云南、重庆、湖北、湖南、江西、安徽、江苏和上海，最后注入东海。\n"
            "三峡大坝位于湖北省宜昌市三斗坪镇，是世界上装机容量最大的水电站。"
        ),
    ),
    (
        "mogao",
        "莫高窟",
        (
            "莫高窟位于甘肃省敦煌市东南的鸣沙山东麓，始建于前秦建元二年。\n"
            "莫高窟现存洞窟735个，壁画4.5万平方米，泥质彩塑2415尊，是世界上现存规模最大的佛教艺术地。\n"
            "1987年，莫高窟被列入世界文化遗产名录。"
        ),
    ),
    (
        "weiqi",
        "围棋",
        (
            "围棋起源于中国，古代称为弈，是一种两人对弈的策略棋类游戏。\n"
            "标准的围棋棋盘由纵横各19条线组成，共有361个交叉点，黑白双方轮流落子。\n"
            "对局结束时，以围住的地盘多少决定胜负。"
        ),
    ),
    (
        "rail",
        "京沪高速铁路",
        (
            "京沪高速铁路北起北京南站，南至上海虹桥站，全长1318公里。\n"
            "京沪高铁于2011年6月30日正式开通运营，最高运营时速为350公里。\n"
            "沿线设有天津南、济南西、南京南等24个车站。"
        ),
    ),
    (
        "tea",
        "龙井茶",
        (
            "龙井茶是中国十大名茶之一，属于绿茶，产于浙江省杭州市西湖一带。\n"
            "龙井茶以色绿、香郁、味甘、形美四绝著称，清明节前采制的明前茶最为名贵。"
        ),
    ),
]
QUESTIONS = [
    ("成年大熊猫每天吃多少公斤竹子？", "panda"),
    ("三峡大坝位于哪个城市？", "yangtze"),
    ("莫高窟现存多少个洞窟？", "mogao"),
    ("围棋棋盘有多少个交叉点？", "weiqi"),
    ("京沪高铁是哪一天开通运营的？", "rail"),
    ("龙井茶产于哪里？", "tea"),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def milvus_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Milvus Lite gRPC server on 127.0.0.1 for this module, stopped afterwards."""
    port = _free_port()
    data = tmp_path_factory.mktemp("milvus-lite")
    command = [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(data), "--host", "127.0.0.1"]
    server = subprocess.Popen(
        [*command, "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, "milvus-lite server exited"
                assert time.monotonic() < deadline, "milvus-lite server did not start in 60 s"
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    rows = [{"id": i, "title": t, "text": text, "source": "测试百科"} for i, t, text in ARTICLES]
    (folder / "articles.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8"
    )
    return folder


def _milvus(uri: str, alias: str, **more) -> IndexSettings:
    store = StoreSettings(backend="milvus", milvus_uri=uri, milvus_alias=alias, **more)
    return replace(IndexSettings(), store=store)


@pytest.fixture(scope="module")
def built(milvus_uri, corpus, tmp_path_factory, module_fake_embedder) -> tuple[Path, Path]:
    """The corpus built twice: on the Milvus store and on FAISS."""
    root = tmp_path_factory.mktemp("indexes")
    on_milvus, on_faiss = root / "milvus", root / "faiss"
    build_index(
        corpus, on_milvus, _milvus(milvus_uri, "wenda_test_ranks"), module_fake_embedder, progress=False
    )
    build_index(corpus, on_faiss, IndexSettings(), module_fake_embedder, progress=False)
    return on_milvus, on_faiss


@pytest.mark.slow  # a Milvus Lite server and several builds: about 40 s in all
def test_milvus_store_ranks_and_cites_like_the_faiss_store(built, module_fake_embedder):
    on_milvus, on_faiss = built
    index = load_index(on_milvus)
    assert index.manifest["store"]["backend"] == "milvus" and index.faiss_index is None
    assert index.manifest["store"]["bigram_analyzer"] == "standard"  # Lite has no whitespace tokenizer
    milvus_bot, faiss_bot = Bot(index, module_fake_embedder), Bot(load_index(on_faiss), module_fake_embedder)
    assert type(milvus_bot.retrievers[0][0]).__name__ == "HybridRetriever" and len(milvus_bot.retrievers) == 1
    for question, expected in QUESTIONS:
        got, want = milvus_bot.ask(question, top_k=3), faiss_bot.ask(question, top_k=3)
        assert got.passages[0].citation.article_id == expected, question
        assert got.passages[0].citation == want.passages[0].citation, question
        assert got.answer == want.answer and got.abstained == want.abstained, question


@pytest.mark.slow  # a Milvus Lite server and several builds: about 40 s in all
def test_collection_rows_carry_text_and_citation_fields(built, milvus_uri):
    index = load_index(built[0])
    client = connect(index.settings.store)
    name = index.manifest["store"]["collection"]
    assert client.describe_alias(index.manifest["store"]["alias"])["collection_name"] == name
    rows = {r["chunk_id"]: r for r in client.query(name, filter="vid >= 0", output_fields=["*"])}
    assert set(rows) == {c.chunk.id for c in index.chunks}
    for stored in index.chunks:
        row, chunk = rows[stored.chunk.id], stored.chunk
        article = index.articles[chunk.article_id]
        assert (row["vid"], row["article_id"], row["text"]) == (stored.vid, chunk.article_id, chunk.text)
        assert (row["start"], row["end"], row["paragraph"], row["section"]) == (
            chunk.start,
            chunk.end,
            chunk.paragraph,
            chunk.section,
        )
        assert (row["title"], row["source"]) == (article.title, "测试百科")
        assert len(row["vector"]) == index.manifest["model"]["dimension"]


@pytest.mark.slow  # a Milvus Lite server and several builds: about 40 s in all
def test_add_and_remove_upsert_and_delete_by_chunk_id(milvus_uri, corpus, tmp_path, fake_embedder):
    root = tmp_path / "idx"
    build_index(corpus, root, _milvus(milvus_uri, "wenda_test_update"), fake_embedder, progress=False)
    name = load_index(root).manifest["store"]["collection"]
    extra = tmp_path / "more"
    extra.mkdir()
    (extra / "taishan.md").write_text(
        "# 泰山\n\n泰山位于山东省泰安市，主峰玉皇顶海拔1545米。\n\n泰山被列入世界文化与自然双重遗产。\n",
        encoding="utf-8",
    )
    client = connect(load_index(root).settings.store)
    leftover = {  # a row a killed update upserted, with a vid that never went live
        "chunk_id": "leftover",
        "vid": 10_000,
        "article_id": "gone",
        "text": "泰山",
        "start": 0,
        "end": 2,
        "vector": [0.125] * fake_embedder.dimension,
        "keywords": "泰山",
        "bigrams": "泰山",
    }
    client.insert(name, [leftover])
    report = update_index(root, add=[extra], embedder=fake_embedder, progress=False)
    assert report.added == ["taishan"] and "upserted" in report.faiss
    assert client.query(name, filter='chunk_id == "leftover"', output_fields=["vid"]) == []
    index = load_index(root)
    assert index.manifest["store"]["collection"] == name  # updated in place, no new collection
    # Words only the new article holds: Milvus Lite scores rows added later with the IDF of their
    # own segment, so a word shared with older rows would not rank them as a cluster does.
    answer = Bot(index, fake_embedder).ask("泰山主峰玉皇顶海拔多少米？", top_k=3)
    assert answer.passages[0].citation.article_id == "taishan"

    update_index(root, remove=["panda"], progress=False)
    index = load_index(root)
    assert client.query(name, filter='article_id == "panda"', output_fields=["vid"]) == []
    assert "pending_delete" in index.manifest["store"]  # replayed by the next writer if this one was killed
    kept = {r["chunk_id"] for r in client.query(name, filter="vid >= 0", output_fields=["vid"])}
    assert kept == {c.chunk.id for c in index.chunks}
    answer = Bot(index, fake_embedder).ask("成年大熊猫每天吃多少公斤竹子？", top_k=5)
    assert "panda" not in {p.citation.article_id for p in answer.passages}


@pytest.mark.slow  # a Milvus Lite server and several builds: about 40 s in all
def test_rebuild_switches_the_alias_and_a_failed_one_leaves_the_live_collection(
    milvus_uri, corpus, tmp_path, fake_embedder, monkeypatch
):
    root, alias = tmp_path / "idx", "wenda_test_alias"
    settings = _milvus(milvus_uri, alias)
    build_index(corpus, root, settings, fake_embedder, progress=False)
    first = load_index(root).manifest["store"]["collection"]
    client = connect(settings.store)
    orphan = f"{alias}__20000101T000000_abcdef"  # what a build killed before its swap leaves
    client.create_collection(orphan, dimension=4)

    def fail_at_manifest(stage: str) -> None:
        if stage == "manifest":
            raise OSError("disk full")

    monkeypatch.setattr(index.store.generations, "stage_hook", fail_at_manifest)
    before = (root / CURRENT).read_text()
    with pytest.raises(OSError, match="disk full"):
        build_index(corpus, root, settings, fake_embedder, progress=False)
    monkeypatch.undo()
    assert (root / CURRENT).read_text() == before
    assert client.describe_alias(alias)["collection_name"] == first
    assert load_index(root).manifest["store"]["collection"] == first

    build_index(corpus, root, settings, fake_embedder, progress=False)
    second = load_index(root).manifest["store"]["collection"]
    assert client.describe_alias(alias)["collection_name"] == second != first
    build_index(corpus, root, settings, fake_embedder, progress=False)
    third = load_index(root).manifest["store"]["collection"]
    ours = {c for c in client.list_collections() if c.startswith(f"{alias}__")}
    assert ours == {second, third}  # the previous is kept one round; the first and the orphans are gone


@pytest.mark.slow  # a Milvus Lite server and several builds: about 40 s in all
def test_a_generation_a_server_holds_a_lease_on_keeps_its_collection(
    milvus_uri, corpus, tmp_path, fake_embedder
):
    root, alias = tmp_path / "idx", "wenda_test_lease"
    settings = _milvus(milvus_uri, alias)
    build_index(corpus, root, settings, fake_embedder, progress=False)
    served = load_index(root)
    lease = Lease(root)
    lease.hold([served.generation.name])  # a server reading this generation
    for _ in range(2):
        build_index(corpus, root, settings, fake_embedder, progress=False)
    client = connect(settings.store)
    ours = {c for c in client.list_collections() if c.startswith(f"{alias}__")}
    assert served.manifest["store"]["collection"] in ours and len(ours) == 3  # leased, previous, live
    again = load_index(root, generation=served.generation.name)
    answer = Bot(again, fake_embedder).ask("龙井茶产于哪里？", top_k=3)
    assert answer.passages[0].citation.article_id == "tea"

    lease.release()
    build_index(corpus, root, settings, fake_embedder, progress=False)
    ours = {c for c in client.list_collections() if c.startswith(f"{alias}__")}
    assert served.manifest["store"]["collection"] not in ours and len(ours) == 2


def test_weights_become_repeated_requests():
    assert route_counts([1.0, 2.0]) == [1, 2]
    assert route_counts([1.0, 1.0, 1.0]) == [1, 1, 1]
    assert route_counts([0.5, 1.0]) == [1, 2]
    with pytest.raises(ValueError, match="multiples of 1/4"):
        route_counts([1.0, 0.3])


def test_token_comes_from_a_file_or_the_environment_never_the_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WENDA_MILVUS_TOKEN", "from-env")
    assert read_token(StoreSettings()) == "from-env"
    secret = tmp_path / "token"
    secret.write_text("root:Milvus\n", encoding="utf-8")
    assert read_token(StoreSettings(milvus_token_file=str(secret))) == "root:Milvus"
    with pytest.raises(SystemExit):
        index_main(["build", "--corpus", ".", "--index", "x", "--store", "milvus", "--milvus-token", "t"])
    assert "unrecognized arguments: --milvus-token" in capsys.readouterr().err


def test_milvus_store_needs_a_uri_and_the_extra(monkeypatch):
    with pytest.raises(ValueError, match="--milvus-uri"):
        StoreSettings(backend="milvus")
    monkeypatch.setitem(sys.modules, "pymilvus", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'wenda\[milvus\]'"):
        connect(StoreSettings(backend="milvus", milvus_uri="http://127.0.0.1:1"))
