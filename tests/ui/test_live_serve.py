"""A real `python -m ui serve` follows `python -m index add|remove` while 8 clients ask questions.

No request fails; answers cite the new article within 5 s of `index add` finishing and stop
citing it within 5 s of `index remove` finishing; the server's memory (VmRSS) comes back to
within 10 % of its level before the update; a generation broken by hand (bad checksum) is
refused and the old one keeps answering. Figures are printed (pytest -s shows them).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from index.build import build_index
from index.files import write_text_atomic
from index.store import CURRENT, live_generation
from index.store.leases import LEASES

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
NEWS = (
    "# 伽马汽车发布新款电动车\n\n"
    "伽马汽车公司6月20日在杭州发布了新款电动汽车“星河”。该车的续航里程达到八百公里，售价为二十万元。\n\n"
    "公司表示，“星河”将于今年九月开始交付，首批车辆将在浙江省销售。\n"
)
NEW_QUESTION = "伽马汽车发布的星河电动车续航里程是多少？"
OLD_QUESTION = "2024年中国与中亚五国的贸易额达到多少？"
CLIENTS = 8
MAX_REQUESTS = 4000  # all clients together: the load is bounded even if a step hangs
MAX_SECONDS = 900
SWITCH_SECONDS = 5.0


@dataclass
class Reply:
    started: float
    ended: float
    question: str
    status: int | str
    cites_new: bool = False


class Clients:
    """8 threads asking questions in turn until stopped (or the bounds are reached)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.replies: list[Reply] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(CLIENTS)]
        self._deadline = time.time() + MAX_SECONDS

    def start(self) -> Clients:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(120)

    def _run(self, number: int) -> None:
        with httpx.Client(timeout=60) as client:
            turn = number
            while (
                not self._stop.is_set() and len(self.replies) < MAX_REQUESTS and time.time() < self._deadline
            ):
                question = NEW_QUESTION if turn % 2 else OLD_QUESTION
                turn += 1
                started = time.time()
                try:
                    response = client.post(f"{self.base}/api/ask", json={"question": question, "top_k": 3})
                    status: int | str = response.status_code
                    cites = status == 200 and any(
                        p["citation"]["article_id"] == "gamma" for p in response.json()["passages"][:1]
                    )
                except httpx.HTTPError as exc:
                    status, cites = repr(exc), False
                with self._lock:
                    self.replies.append(Reply(started, time.time(), question, status, cites))
                time.sleep(0.02)

    def new_question_replies(self, after: float) -> list[Reply]:
        with self._lock:
            return [r for r in self.replies if r.question == NEW_QUESTION and r.started >= after]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("HF_HUB_OFFLINE", "1")
    return env


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _rss_settled(pid: int, seconds: float = 6.0) -> int:
    """The median of VmRSS samples over a few seconds."""
    samples = []
    for _ in range(int(seconds / 0.5)):
        samples.append(_rss_kb(pid))
        time.sleep(0.5)
    return sorted(samples)[len(samples) // 2]


def _cli(*args: str) -> float:
    """Run `python -m index …`; return the time it finished."""
    done = subprocess.run(
        [sys.executable, "-m", "index", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=_env(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return time.time()


def _wait_for(check, timeout: float, what: str) -> float:
    started = time.time()
    while not check():
        assert time.time() - started < timeout, f"timed out waiting for {what}"
        time.sleep(0.1)
    return time.time()


# One index and one server for the module (starting the real model takes a minute or more): the
# tests run in order, and the last one stops the server.
@pytest.fixture(scope="module")
def index_dir(tmp_path_factory, sample_corpus, real_embedder) -> Path:
    target = tmp_path_factory.mktemp("live") / "idx"
    build_index(sample_corpus, target, embedder=real_embedder, progress=False)
    return target


@pytest.fixture(scope="module")
def server(index_dir):
    port = _free_port()
    log = (index_dir.parent / "serve.log").open("w", encoding="utf-8")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ui",
            "serve",
            "--index",
            str(index_dir),
            "--port",
            str(port),
            "--concurrency",
            "8",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=_env(),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: _healthy(base, process), 600, "the server to load its index")
        yield process, base, index_dir.parent / "serve.log"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _healthy(base: str, process: subprocess.Popen) -> bool:
    assert process.poll() is None, "the server exited"
    try:
        return httpx.get(f"{base}/api/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _health(base: str) -> dict:
    return httpx.get(f"{base}/api/health", timeout=10).json()


def test_add_and_remove_reach_a_serving_server_without_failures(server, index_dir, tmp_path):
    process, base, log_path = server
    news = tmp_path / "gamma.md"
    news.write_text(NEWS, encoding="utf-8")
    clients = Clients(base).start()
    try:
        _wait_for(lambda: len(clients.replies) >= 200, 600, "the warm-up questions")
        rss_before = _rss_settled(process.pid)
        first = _health(base)

        added = _cli("add", "--index", str(index_dir), str(news), "--quiet")
        written = (index_dir / CURRENT).stat().st_mtime
        switched = _wait_for(
            lambda: any(r.cites_new for r in clients.new_question_replies(written)), 60, "answers from gamma"
        )
        first_new = min(r.started for r in clients.new_question_replies(written) if r.cites_new)
        add_swap, add_delay = first_new - written, first_new - added
        _wait_for(lambda: len(clients.new_question_replies(switched + 0.5)) >= 8, 120, "more answers")
        assert all(r.cites_new for r in clients.new_question_replies(switched + 0.5))
        during = _health(base)

        removed = _cli("remove", "--index", str(index_dir), "gamma")
        written = (index_dir / CURRENT).stat().st_mtime
        _wait_for(lambda: _health(base)["articles"] == first["articles"], 60, "the removal to be served")
        gone = _wait_for(
            lambda: any(not r.cites_new for r in clients.new_question_replies(written)),
            60,
            "answers without gamma",
        )
        first_old = min(r.started for r in clients.new_question_replies(written) if not r.cites_new)
        remove_swap, remove_delay = first_old - written, first_old - removed
        _wait_for(lambda: len(clients.new_question_replies(gone + 0.5)) >= 8, 120, "more answers")
        assert not any(r.cites_new for r in clients.new_question_replies(gone + 0.5))
        time.sleep(5)  # the old generations' memory is handed back by the release thread
        rss_after = _rss_settled(process.pid)
    finally:
        clients.stop()

    failures = [r for r in clients.replies if r.status != 200]
    print(
        f"\n{len(clients.replies)} requests by {CLIENTS} clients, {len(failures)} failed; "
        f"first answer from the new generation {add_swap:.2f} s after `index add` swapped CURRENT "
        f"({add_delay:+.2f} s from the command's exit), after `index remove` {remove_swap:.2f} s "
        f"({remove_delay:+.2f} s); "
        f"VmRSS before {rss_before / 1024:.0f} MB, after {rss_after / 1024:.0f} MB "
        f"({(rss_after - rss_before) / rss_before:+.1%}); generations {first['generation']} -> "
        f"{during['generation']} -> {_health(base)['generation']}"
    )
    assert failures == []
    assert during["articles"] == first["articles"] + 1 and during["generation"] != first["generation"]
    assert add_delay <= SWITCH_SECONDS and remove_delay <= SWITCH_SECONDS
    assert (
        add_swap <= 2 * SWITCH_SECONDS and remove_swap <= 2 * SWITCH_SECONDS
    )  # from the swap itself: loose, CPU is shared
    assert abs(rss_after - rss_before) <= 0.10 * rss_before
    log = log_path.read_text(encoding="utf-8")
    assert "now serving index generation" in log and "Traceback" not in log


def test_a_hand_broken_generation_is_refused_and_the_old_one_answers(server, index_dir):
    """Runs last: it stops the shared server to check that its lease goes with it."""
    process, base, log_path = server
    serving = _health(base)["generation"]
    broken = index_dir / f"gen-29990101T000000-{os.getpid() % 1000:03d}bad"
    shutil.copytree(index_dir / serving, broken)
    vectors = broken / "vectors.faiss"
    data = bytearray(vectors.read_bytes())
    data[-8] ^= 0xFF  # one byte of a vector: only the checksum notices
    vectors.write_bytes(bytes(data))
    write_text_atomic(index_dir / CURRENT, broken.name + "\n")
    _wait_for(lambda: _health(base)["refused"] is not None, 30, "the refusal")
    health = _health(base)
    assert health["generation"] == serving and health["refused"]["generation"] == broken.name
    assert "checksum" in health["refused"]["reason"]
    answer = httpx.post(f"{base}/api/ask", json={"question": OLD_QUESTION}, timeout=60)
    assert answer.status_code == 200 and "948亿美元" in answer.json()["passages"][0]["text"]
    log = log_path.read_text(encoding="utf-8")
    assert log.count("refused index generation") == 1 and "checksum" in log
    lease = json.loads(next((index_dir / LEASES).iterdir()).read_text())
    assert lease["generations"] == [serving] and lease["pid"] == process.pid
    write_text_atomic(index_dir / CURRENT, serving + "\n")  # put the index right again
    assert live_generation(index_dir).name == serving
    process.send_signal(signal.SIGTERM)
    process.wait(30)
    assert list((index_dir / LEASES).iterdir()) == []  # the lease goes with the server
