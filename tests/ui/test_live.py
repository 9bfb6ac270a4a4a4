"""Live index updates in the service (fake embedder): switch, refuse, lease, memory; start progress; logging."""

from __future__ import annotations

import json
import logging
import shutil
import time
import weakref
from pathlib import Path

import pytest

from index.build import build_index
from index.files import write_text_atomic
from index.progress import Progress
from index.store import CURRENT, live_generation
from index.store.leases import LEASES, leased_generations
from index.update import update_index
from qa import load_bot
from ui.live import RememberingEmbedder, release_memory
from ui.logs import configure_logging
from ui.progress import StartProgress
from ui.service import BotService

NEWS = "# 伽马汽车\n\n伽马公司今天在杭州发布了新型号的电动汽车，续航里程达到八百公里。\n"
QUESTION = "伽马公司的新车续航里程是多少？"


@pytest.fixture
def index_dir(tmp_path, sample_corpus, fake_embedder) -> Path:
    target = tmp_path / "idx"
    build_index(sample_corpus, target, embedder=fake_embedder, progress=False)
    return target


@pytest.fixture
def service(index_dir, fake_embedder):
    service = BotService(
        index_dir,
        loader=lambda: load_bot(index_dir, embedder=fake_embedder, progress=False),
        poll_seconds=0.1,
    ).start(background=False)
    yield service
    service.close()


def _add_news(index_dir: Path, tmp_path: Path, embedder) -> None:
    news = tmp_path / "gamma.md"
    news.write_text(NEWS, encoding="utf-8")
    update_index(index_dir, add=[news], root=tmp_path, embedder=embedder, progress=False)


def _wait(check, timeout: float = 5.0) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, "timed out"
        time.sleep(0.05)
    return time.monotonic() - started


def _top_article(service: BotService) -> str:
    return service.ask(QUESTION, top_k=1)["passages"][0]["citation"]["article_id"]


def test_a_new_generation_is_served_and_questions_in_flight_keep_theirs(
    service, index_dir, tmp_path, fake_embedder
):
    before = service.health()
    assert before["generation"] == live_generation(index_dir).name and before["loaded_at"]
    old_bot = service.bot  # what a question in flight holds
    _add_news(index_dir, tmp_path, fake_embedder)
    _wait(lambda: service.health()["generation"] == live_generation(index_dir).name)
    after = service.health()
    assert after["articles"] == before["articles"] + 1 and after["loaded_at"] >= before["loaded_at"]
    assert _top_article(service) == "gamma"
    assert (
        old_bot.ask(QUESTION, top_k=1).passages[0].citation.article_id != "gamma"
    )  # the old one still answers
    assert service.bot.embedder.inner is fake_embedder  # the same model serves the new generation
    update_index(index_dir, remove=["gamma"], embedder=fake_embedder, progress=False)
    _wait(lambda: service.health()["articles"] == before["articles"])
    assert _top_article(service) != "gamma"


def test_a_generation_with_a_bad_checksum_is_refused_and_the_old_one_serves(service, index_dir, caplog):
    serving = service.health()["generation"]
    broken = index_dir / "gen-29990101T000000-bad000"
    shutil.copytree(index_dir / serving, broken)
    records = broken / "records.sqlite"
    records.write_bytes(records.read_bytes().replace("峰会".encode(), "峰汇".encode(), 1))
    with caplog.at_level(logging.WARNING, logger="wenda"):
        write_text_atomic(index_dir / CURRENT, broken.name + "\n")  # as writers do: one rename
        _wait(lambda: service.health()["refused"] is not None)
    health = service.health()
    assert health["generation"] == serving and health["refused"]["generation"] == broken.name
    assert "checksum" in health["refused"]["reason"]
    refusals = [r for r in caplog.records if "refused index generation" in r.getMessage()]
    assert len(refusals) == 1 and "checksum" in refusals[0].getMessage()
    time.sleep(0.5)  # CURRENT unchanged: not tried again, not logged again
    assert len([r for r in caplog.records if "refused" in r.getMessage()]) == 1
    assert service.ask("峰会在哪里举行？")["passages"]


def test_a_generation_of_another_model_is_refused(service, index_dir, tmp_path, sample_corpus, fake_embedder):
    class OtherModel(type(fake_embedder)):
        fingerprint = "other0001"

    other = tmp_path / "other"
    build_index(sample_corpus, other, embedder=OtherModel(), progress=False)
    name = live_generation(other).name
    shutil.copytree(other / name, index_dir / name)
    write_text_atomic(index_dir / CURRENT, name + "\n")
    _wait(lambda: service.health()["refused"] is not None)
    assert "fingerprint" in service.health()["refused"]["reason"]


def test_the_lease_keeps_the_served_generation_until_the_server_moves(
    service, index_dir, tmp_path, fake_embedder
):
    served = service.health()["generation"]
    assert leased_generations(index_dir) == {served}
    service.watcher.poll_seconds = 3600  # a server that has not moved yet (still holding its lease)
    time.sleep(0.3)
    for name in ("a", "b"):
        news = tmp_path / f"{name}.md"
        news.write_text(NEWS.replace("伽马", name), encoding="utf-8")
        update_index(index_dir, add=[news], root=tmp_path, embedder=fake_embedder, progress=False)
    assert (index_dir / served).is_dir()  # two writes later, still there for the server
    service.close()
    assert list((index_dir / LEASES).iterdir()) == []


def test_the_old_bot_is_released_after_a_switch(service, index_dir, tmp_path, fake_embedder):
    old = weakref.ref(service.bot)
    _add_news(index_dir, tmp_path, fake_embedder)
    _wait(lambda: service.health()["articles"] == 3)
    _wait(lambda: old() is None, timeout=10)  # questions in flight are done: the release thread frees it


def test_release_memory_waits_for_the_last_reference():
    class Big:
        pass

    holder = [Big()]
    ref = weakref.ref(holder[0])
    assert release_memory(ref, seconds=0.1) is False
    holder.clear()
    assert release_memory(ref, seconds=1) is True


def test_remembering_embedder_skips_the_background_batch_only(fake_embedder):
    remembering = RememberingEmbedder(fake_embedder, min_batch=3)
    batch = ["一", "二", "三", "四"]
    first = remembering.embed_queries(batch)
    calls = fake_embedder.calls
    assert (remembering.embed_queries(batch) == first).all() and fake_embedder.calls == calls
    remembering.embed_queries(["一"])
    assert fake_embedder.calls == calls + 1
    assert remembering.model_id == fake_embedder.model_id


def test_first_run_builds_the_sample_index_with_progress(tmp_path, monkeypatch, fake_embedder):
    monkeypatch.setenv("WENDA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr("ui.service.make_embedder", lambda settings, progress=False: fake_embedder)
    seen: list[dict] = []
    progress = StartProgress()
    original = progress.update
    monkeypatch.setattr(progress, "update", lambda *a: (original(*a), seen.append(progress.snapshot()))[0])
    service = BotService(progress=progress, poll_seconds=0.1).start(background=False)
    try:
        assert service.ready and service.index_dir == tmp_path / "cache" / "index" / "sample"
        status = service.status()
        assert status["ready"] and status["fraction"] == 1.0 and status["error"] is None
        assert [s["name"] for s in status["steps"]] == ["model", "read", "chunk", "embed", "write", "load"]
        assert all(s["state"] == "done" for s in status["steps"])
        embed = [s for snap in seen for s in snap["steps"] if s["name"] == "embed" and s["state"] == "active"]
        assert embed and embed[-1]["done"] == embed[-1]["total"] > 0
        fractions = [snap["fraction"] for snap in seen]
        assert fractions == sorted(fractions) and 0 < fractions[len(fractions) // 2] < 1
    finally:
        service.close()


def test_a_failed_load_is_one_line_on_the_status(tmp_path):
    service = BotService(tmp_path / "missing", poll_seconds=0.1).start(background=False)
    status = service.status()
    assert not status["ready"] and "no index" in status["error"]
    assert service.health()["status"] == "error"


def test_start_progress_steps_and_fraction():
    progress = StartProgress()
    progress.begin("web")
    progress.plan(["model", "read", "chunk", "embed", "write", "load"])
    progress.begin("model")
    progress.index_progress(Progress("embed", 5, 10))  # read and chunk were never reported: done
    snap = progress.snapshot()
    states = {s["name"]: s["state"] for s in snap["steps"]}
    assert states == {
        "web": "active",
        "model": "done",
        "read": "done",
        "chunk": "done",
        "embed": "active",
        "write": "pending",
        "load": "pending",
    }
    assert snap["step"] == "embed" and 0.3 < snap["fraction"] < 0.7
    progress.index_progress(Progress("write", 1, 1))
    assert {s["name"]: s["state"] for s in progress.snapshot()["steps"]}["write"] == "done"
    progress.fail("boom")
    assert progress.snapshot()["error"] == "boom"


def test_console_log_keeps_library_noise_out_unless_debugging(capsys):
    handlers, level = list(logging.getLogger().handlers), logging.getLogger().level
    try:
        configure_logging("info")
        logging.getLogger("bm25s").setLevel(logging.DEBUG)  # as bm25s does on import
        logging.getLogger("bm25s").debug("Building index from tokens")
        logging.getLogger("faiss.loader").info(
            "Could not load library with AVX512 support due to: ModuleNotFoundError"
        )
        logging.getLogger("wenda.ui").info("Wenda line")
        logging.getLogger("somelib").warning("a real warning")
        err = capsys.readouterr().err
        assert "Wenda line" in err and "a real warning" in err
        assert "bm25s" not in err and "Could not load" not in err
        configure_logging("debug")
        logging.getLogger("bm25s").debug("Building index from tokens")
        assert "Building index" in capsys.readouterr().err
    finally:  # leave logging as pytest set it up
        logging.getLogger().handlers[:] = handlers
        logging.getLogger().setLevel(level)
        for name in ("wenda", "faiss.loader", "bm25s"):
            logging.getLogger(name).setLevel(logging.NOTSET)
        logging.captureWarnings(False)


def test_lease_file_names_the_served_generation(service, index_dir):
    (lease,) = (index_dir / LEASES).iterdir()
    data = json.loads(lease.read_text())
    assert data["generations"] == [service.health()["generation"]]
