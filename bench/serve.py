"""Serving throughput: start the app on a loopback port, drive POST /api/ask concurrently.

The server is the product's own command, `python -m ui serve`, in a child process, so its
start-up (spawn to /api/health 200) and resident memory are measured apart from the
clients. With --no-batching the child instead builds the same app with each query embedded
alone (for comparison; `ui serve` always batches). The bare query embedding time is
measured in this process before and after the load phase (same model, same questions).

    python bench/serve.py [--index DIR] [--clients 16] [--seconds 20] [--concurrency N] [--no-batching]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from _common import ROOT, SEED_QA, machine_notes, ms, pct, rss_mb


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_server(args: argparse.Namespace) -> None:
    """Child mode (--no-batching): the app as `ui serve` builds it, without query batching."""
    import uvicorn

    from qa.bot import load_bot
    from ui.app import create_app
    from ui.service import BotService
    from ui.settings import Settings

    concurrency = args.concurrency or Settings().concurrency
    settings = Settings(host="127.0.0.1", port=args.port, index=args.index, concurrency=concurrency)
    loader = lambda: load_bot(args.index, progress=False)
    service = BotService(args.index, loader=loader, max_concurrent=concurrency).start(background=True)
    app = create_app(settings, service)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


def wait_ready(client, base: str, proc: subprocess.Popen, timeout: float) -> float:
    """Seconds until /api/health answers 200 (index loaded)."""
    import httpx

    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with code {proc.returncode}")
        with contextlib.suppress(httpx.TransportError):  # not listening yet
            if client.get(f"{base}/api/health", timeout=2).status_code == 200:
                return time.perf_counter() - started
        time.sleep(0.1)
    raise SystemExit(f"server not ready after {timeout} s")


def drive(base: str, questions: list[str], clients: int, seconds: float):
    """N client threads, each asking in a loop until the deadline; returns latencies and errors."""
    import httpx

    latencies: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client_loop(n: int) -> None:
        with httpx.Client(timeout=60) as client:
            i = n
            while time.perf_counter() < deadline:
                q = questions[i % len(questions)]
                i += clients
                started = time.perf_counter()
                try:
                    response = client.post(f"{base}/api/ask", json={"question": q, "top_k": 5})
                    ok = response.status_code == 200
                    key = None if ok else f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:  # counted, not raised
                    key = type(exc).__name__
                elapsed = time.perf_counter() - started
                with lock:
                    if key is None:
                        latencies.append(elapsed)
                    else:
                        errors[key] = errors.get(key, 0) + 1

    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors, time.perf_counter() - started


def bare_embedding(embedder, questions: list[str], rounds: int = 3) -> list[float]:
    times = []
    for _ in range(rounds):
        for q in questions:
            started = time.perf_counter()
            embedder.embed_queries([q])
            times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--index", type=Path, default=None, help="index directory (default: the sample index)"
    )
    parser.add_argument("--questions", type=Path, default=SEED_QA)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="the app's `concurrency` setting (default: the app's, 16)",
    )
    parser.add_argument(
        "--no-batching", action="store_true", help="embed each query alone (the app batches concurrent ones)"
    )
    parser.add_argument("--_server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.clients < 1 or not 0 < args.seconds <= 600:
        parser.error("--clients must be >= 1 and --seconds in (0, 600]")
    if args._server:
        return run_server(args)

    import httpx

    from index.embed import make_embedder
    from index.settings import IndexSettings
    from index.store import read_manifest

    if args.index is None:
        from index.sample import ensure_sample_index

        args.index = ensure_sample_index(progress=False)
    questions = [
        json.loads(l)["question"]
        for l in args.questions.read_text(encoding="utf-8").splitlines()
        if l.strip()
    ]
    print(f"machine: {machine_notes()}")
    port = free_port()
    if args.no_batching:
        command = [sys.executable, __file__, "--_server", "--no-batching"]
    else:
        command = [sys.executable, "-m", "ui", "serve"]
    command += ["--port", str(port), "--index", str(args.index)]
    command += ["--concurrency", str(args.concurrency)] if args.concurrency else []
    proc = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client() as client:
            ready = wait_ready(client, base, proc, timeout=120)
            print(
                f"server: pid {proc.pid}, ready (index loaded) {ready:.2f} s after spawn; RSS {rss_mb(proc.pid):.0f} MB"
            )
            for q in questions:  # warm the server
                client.post(f"{base}/api/ask", json={"question": q}, timeout=60)
        embedder = make_embedder(
            IndexSettings.from_dict(read_manifest(args.index)["settings"]).embed, progress=False
        )
        bare_embedding(embedder, questions, 2)  # warm-up
        before = bare_embedding(embedder, questions)
        latencies, errors, wall = drive(base, questions, args.clients, args.seconds)
        serving_rss = rss_mb(proc.pid)
        after = bare_embedding(embedder, questions)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    bare = pct(before + after, 50)
    rps = len(latencies) / wall
    cores = os.cpu_count() or 1
    print(
        f"load: {args.clients} clients, {wall:.1f} s, concurrency setting {args.concurrency or 'default'}, batching {'off' if args.no_batching else 'on'}"
    )
    print(f"requests/s {rps:.2f}   ok {len(latencies)}   errors {sum(errors.values())} {errors or ''}")
    if latencies:
        print(
            f"latency p50 {ms(pct(latencies, 50))}  p95 {ms(pct(latencies, 95))}  p99 {ms(pct(latencies, 99))}"
        )
    print(f"server RSS while serving {serving_rss:.0f} MB")
    print(
        f"bare query embedding p50 {ms(bare)} (before {ms(pct(before, 50))}, after {ms(pct(after, 50))}); 1/bare = {1 / bare:.2f} /s"
    )
    target = 0.8 / bare  # the '0.8 x (1 / bare) per core', read per core
    print(
        f"throughput / (1/bare) = {rps * bare:.2f}; per core {rps * bare / cores:.2f}  "
        f"(target >= 0.8 per core, i.e. >= {target * cores:.1f} req/s on {cores} cores, 0 errors: "
        f"{'met' if rps >= target * cores and not errors else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
