"""cProfile of the full pipeline on a varied 800-word article, after ``gc.freeze()`` as in serving.

    python -m bench.profile_pipeline [--calls 500] [--words 800]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import random
import sys


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=500)
    ap.add_argument("--words", type=int, default=800)
    args = ap.parse_args(argv)
    from bench.scaling import news_item
    from classifiers.pipeline import Moderator
    from service.config import Settings
    from service.services import load_classifier

    mod = Moderator(classifier=load_classifier(Settings()))
    item = news_item(random.Random(42), args.words, media=False)
    gc.collect()
    gc.freeze()
    for _ in range(30):
        mod.moderate(item)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(args.calls):
        mod.moderate(item)
    prof.disable()
    stats = pstats.Stats(prof)
    stats.sort_stats("cumulative").print_stats(14)
    stats.sort_stats("tottime").print_stats(18)
    return 0


if __name__ == "__main__":
    sys.exit(main())
