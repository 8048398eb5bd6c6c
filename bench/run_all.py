"""``make bench``: the benchmark suite in one run."""

from __future__ import annotations

import sys


def main() -> int:
    from bench import hash_index, pipeline

    pipeline.main([])
    print()
    sys.argv = [sys.argv[0]]  # the index benchmark parses its own arguments
    hash_index.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
