"""Loading an index for serving, step by step: checksums, records, FAISS, BM25; and memory.

The checksums are timed twice: reading every file, and as a load runs them once the
generation's files have settled and been stamped (index.store.generations.verify_files).
Records and FAISS are opened twice too: with the cross-checks (every record counted, every
FAISS id compared with the chunks'), and as a load opens them once a load has found the
files consistent and the stamp says so.

Each step runs in this one process, in the order `load_bot` runs them (without the model),
and the memory after each is printed with its private and mapped-file parts.

    python bench/load.py --index DIR
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from _common import machine_notes, memory_words


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--index", type=Path, required=True)
    args = parser.parse_args()

    from index.store import live_generation, load_index, read_manifest
    from index.store.generations import verify_files
    from index.store.keyword import KEYWORD_DIR, KeywordIndex

    print(f"machine: {machine_notes()}")
    print(f"before: {memory_words()}")
    manifest = read_manifest(args.index)
    for check in ("full", "stamped"):  # every file read; then only those changed since (a stat each)
        started = time.perf_counter()
        verify_files(live_generation(args.index), manifest, full=check == "full")
        print(f"checksums of {len(manifest['files'])} files, {check}: {time.perf_counter() - started:.2f} s")
    for label, verify in (("cross-checked", False), ("as a load runs it", True)):
        # cross-checked: the records counted and the FAISS ids compared with the chunks'; a load
        # skips that once a load has found these very files consistent (the stamp says so)
        started = time.perf_counter()
        index = load_index(args.index, verify=verify, warm=verify)  # warmed as load_bot does
        print(
            f"records + FAISS ({index.manifest['faiss']['type']}, mapped {getattr(index.vectors, 'mapped', False)}) "
            f"of {len(index.chunks):,} chunks, {label}: {time.perf_counter() - started:.2f} s; {memory_words()}"
        )
    started = time.perf_counter()
    keyword = KeywordIndex.load(index.path(KEYWORD_DIR))
    print(f"BM25 (mapped): {time.perf_counter() - started:.2f} s; {memory_words()}")
    started = time.perf_counter()
    hits = keyword.search(index.chunks[0].chunk.text[:20], 50)
    print(f"first keyword search: {1000 * (time.perf_counter() - started):.1f} ms, {len(hits)} hits")


if __name__ == "__main__":
    main()
