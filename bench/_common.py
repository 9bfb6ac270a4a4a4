"""Helpers shared by the benchmarks: repo and shared-data paths, percentiles, machine notes, memory.

Run the scripts from a checkout installed with `make install` (editable), e.g.
`.venv/bin/python bench/query.py --help`: the packages are importable from anywhere then.
"""

from __future__ import annotations

import os
import platform
import resource
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# The shared eval data, as the tests find it (tests/conftest.py, shared_dir): $WENDA_SHARED,
# else shared/ beside the checkout.
SHARED = Path(os.environ.get("WENDA_SHARED") or ROOT.parent / "shared")
SEED_QA = SHARED / "eval" / "seed_qa_dev.jsonl"
CMRC_DIR = SHARED / "eval" / "cmrc2018_trial"


def pct(values, q: float) -> float:
    """The q-th percentile (0-100) of `values`."""
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def peak_rss_mb() -> float:
    """Peak resident memory of this process (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb(pid: int | None = None, field: str = "VmRSS") -> float:
    """Current resident memory of a process, from /proc (`field`: VmRSS, or RssAnon for the
    private part, RssFile for mapped files' pages, which the kernel can drop)."""
    with open(f"/proc/{pid or os.getpid()}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def memory_words(pid: int | None = None) -> str:
    """RSS with its private and mapped-file parts, in words."""
    return (
        f"RSS {rss_mb(pid):.0f} MB (private {rss_mb(pid, 'RssAnon'):.0f} MB, "
        f"mapped files {rss_mb(pid, 'RssFile'):.0f} MB)"
    )


def disk_read_bytes() -> int:
    """Bytes this process has had read from storage (/proc/self/io `read_bytes`: page-cache
    misses, through read calls and mapped pages alike; 0 where the kernel does not say)."""
    try:
        with open("/proc/self/io", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("read_bytes:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def machine_notes() -> str:
    """One line describing the machine and the run."""
    import torch

    return (
        f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}; nproc={os.cpu_count()}; "
        f"torch threads={torch.get_num_threads()}; python {platform.python_version()}; {platform.machine()}"
    )


def keep_top(
    best_scores: np.ndarray, best_ids: np.ndarray, scores: np.ndarray, ids: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top k merged block by block: the k best of the rows kept so far and of a new
    block's `scores` (queries x block) with their `ids` (block ids, or queries x block)."""
    scores = np.concatenate([best_scores, scores], axis=1)
    ids = np.concatenate([best_ids, np.broadcast_to(ids, scores[:, best_scores.shape[1] :].shape)], axis=1)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, 1), np.take_along_axis(ids, order, 1)
