#!/usr/bin/env python3
"""Prints RESULTS.md's Table 2 from the `tessera eval sdr --out` files run.sh wrote.

    python3 experiments/pac-hubert/table2.py [DATA_DIR]      # default: data/pac-hubert
"""
import json
import statistics
import sys
from pathlib import Path

STEMS = ["vocals", "drums", "bass", "other"]
INITS = [("scratch", "from scratch"), ("ssl", "PaC-HuBERT"), ("ssl2", "PaC-HuBERT, 2nd iteration")]
FRACTIONS = [25, 50, 100]


def main():
    evals = Path(sys.argv[1] if len(sys.argv) > 1 else "data/pac-hubert") / "eval"
    print("| initialisation | songs | " + " | ".join(STEMS) + " | mean |")
    print("| --- | --- |" + " --- |" * (len(STEMS) + 1))
    anchors = None
    for name, label in INITS:
        for fraction in FRACTIONS:
            path = evals / f"{name}-{fraction}.json"
            if not path.exists():
                continue
            median = json.loads(path.read_text())["median_sdr"]
            anchors = median[1:]
            model = median[0]
            cells = " | ".join(f"{sdr:.2f}" for sdr in model)
            print(f"| {label} | {fraction} % | {cells} | {statistics.mean(model):.2f} |")
    for label, row in zip(["oracle IRM (upper anchor)", "HPSS (lower anchor)"], anchors):
        cells = " | ".join(f"{sdr:.2f}" for sdr in row)
        print(f"| {label} | – | {cells} | {statistics.mean(row):.2f} |")


if __name__ == "__main__":
    main()
