"""Helpers shared by the benchmarks: repo path, percentiles, machine notes, peak memory."""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# the repo must come before bench/ itself, or bench/index.py would shadow the `index` package
while str(ROOT) in sys.path:
    sys.path.remove(str(ROOT))
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SEED_QA = Path("/work/shared/eval/seed_qa_dev.jsonl")
CMRC_DIR = Path("/work/shared/eval/cmrc2018_trial")


def pct(values, q: float) -> float:
    """The q-th percentile (0-100) of `values`."""
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def peak_rss_mb() -> float:
    """Peak resident memory of this process (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb(pid: int | None = None) -> float:
    """Current resident memory of a process, from /proc."""
    with open(f"/proc/{pid or os.getpid()}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def machine_notes() -> str:
    """One line describing the machine and the run."""
    import torch

    return (
        f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}; nproc={os.cpu_count()}; "
        f"torch threads={torch.get_num_threads()}; python {platform.python_version()}; {platform.machine()}"
    )
