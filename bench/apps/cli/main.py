"""An import-heavy command-line tool: argparse, with pandas and numpy imported at the top level
as such tools usually do, and a tiny computation, so that start-up is nearly all imports.

Usage: main.py [VALUE ...] [--round N]
"""

import argparse

import numpy as np
import pandas as pd


def main(argv=None):
    parser = argparse.ArgumentParser(prog="cli", description="Summarise a few numbers.")
    parser.add_argument("values", nargs="*", type=float, default=[3, 1, 4, 1, 5, 9, 2, 6])
    parser.add_argument("--round", type=int, default=2, help="decimals to print")
    args = parser.parse_args(argv)
    series = pd.Series(np.asarray(args.values, dtype=float), name="value")
    stats = series.agg(["count", "mean", "median", "std"]).round(args.round)
    print(" ".join(f"{k}={v:g}" for k, v in stats.items()))


if __name__ == "__main__":
    main()
