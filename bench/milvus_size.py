"""What one chunk costs in a Milvus collection, measured on an index built with `--store milvus`:
the bytes of each field as stored, and the distinct terms each BM25 field indexes (the
postings of its sparse inverted index). docs/deploy.md scales these figures to 25M chunks.

    python bench/milvus_size.py --index DIR
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--index", type=Path, required=True, help="an index built with --store milvus")
    args = parser.parse_args()
    from index.store import load_index
    from index.store.milvus import connect
    from index.text import bigrams, words

    index = load_index(args.index)
    store = index.manifest.get("store") or {}
    if store.get("backend") != "milvus":
        print(f"{args.index} is not on the Milvus store", file=sys.stderr)
        return 2
    client = connect(index.settings.store)
    name = store["collection"]
    rows = client.query(name, filter="vid >= 0", output_fields=["*"])
    n = len(rows)
    print(f"collection {name}: {n} rows ({store.get('server')}, {store.get('index_type')})")
    sizes: dict[str, list[int]] = {}
    for row in rows:
        for field, value in row.items():
            if field.endswith("_bm25"):
                continue
            if field == "vector":
                size = 4 * len(value)
            elif isinstance(value, str):
                size = len(value.encode("utf-8"))
            else:
                size = 8
            sizes.setdefault(field, []).append(size)
    total = 0.0
    for field, values in sizes.items():
        mean = float(np.mean(values))
        total += mean
        print(f"  {field:14s} {mean:8.1f} bytes a chunk")
    print(f"  {'all fields':14s} {total:8.1f} bytes a chunk (raw, before index or compression)")
    # the analyzers' terms, as the index's own tokenizer cuts them (jieba search mode, stopwords dropped)
    jieba_terms = [len(set(words(r["keywords"]))) for r in rows]
    bigram_terms = [len(set(bigrams(r["keywords"]))) for r in rows]
    print(
        f"distinct terms a chunk: jieba field {np.mean(jieba_terms):.1f}, bigram field {np.mean(bigram_terms):.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
