"""`python -m ui serve` on an index that cannot be loaded: one line saying what is wrong and what to
do, then exit status 3 (issue 14.10: it answered 503 forever and logged tracebacks)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import ui.service
from index.build import build_index
from ui.__main__ import main

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def broken_manifest(sample_corpus, tmp_path, fake_embedder):
    index = tmp_path / "idx"
    build_index(sample_corpus, index, embedder=fake_embedder, progress=False)
    generation = index / (index / "CURRENT").read_text(encoding="utf-8").strip()
    (generation / "manifest.json").write_text("{", encoding="utf-8")
    return index


def test_serve_on_a_broken_index_says_once_what_to_do_and_exits(broken_manifest, free_socket):
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    env = {**os.environ, "PYTHONPATH": REPO, "WENDA_CACHE_DIR": os.environ.get("WENDA_CACHE_DIR", "")}
    env = {k: v for k, v in env.items() if v}
    command = [sys.executable, "-m", "ui", "serve", "--index", str(broken_manifest), "--port", str(port)]
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=120, cwd=REPO, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError("the server kept running on an index it cannot load") from exc
    assert done.returncode == 3, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ") or " ERROR " in line]
    assert len(errors) == 1 and errors[0].startswith("error: "), done.stderr[-2000:]
    assert "manifest.json" in errors[0] and "python -m index build" in errors[0]
    assert "Traceback" not in done.stderr


def test_a_load_that_fails_while_serving_stops_the_server(broken_manifest, free_socket, monkeypatch, capsys):
    def late_failure(service):
        time.sleep(3)  # the server is up by now
        from index.errors import IndexCorruptError

        raise IndexCorruptError(
            f"index {str(service.index_dir)!r}: chunks.jsonl is damaged; rebuild the index"
        )

    monkeypatch.setattr(ui.service.BotService, "_prepare_and_load", late_failure)
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    watchdog = threading.Timer(60, os.kill, (os.getpid(), signal.SIGINT))  # uvicorn stops on SIGINT
    watchdog.start()
    try:
        status = main(["serve", "--index", str(broken_manifest), "--port", str(port)])
    finally:
        watchdog.cancel()
    assert status == 3
    stderr = capsys.readouterr().err
    errors = [line for line in stderr.splitlines() if line.startswith("error: ") or " ERROR " in line]
    assert (
        len(errors) == 1 and "chunks.jsonl is damaged" in errors[0] and "python -m index build" in errors[0]
    )
    assert "Traceback" not in stderr
