#!/usr/bin/env python3
"""museval timings for core/benches/sdr.rs: museval.evaluate (BSS Eval v4, 1-s windows and
hops, 512-tap filters) of four stereo sources at 44.1 kHz, on a 30-s excerpt and a 3-minute
song built like the Rust benchmark's (per source: coloured noise plus a tone, panned; each
estimate its reference plus a fifth of the next source and noise 20 dB down).

Prints {"museval_30s_s": ..., "museval_180s_s": ...} (median seconds per evaluation). museval is
slow (minutes for a song), so the song is timed `--song-repeats` times (default 1).

    apt-get install ffmpeg && pip install museval     # museval's musdb import needs ffmpeg
    python3 bench/sdr_reference.py [--repeats 3] [--song-repeats 1]
"""

import argparse
import json
import statistics
import time

import museval
import numpy as np
import scipy.signal

SAMPLE_RATE = 44_100
SOURCES = 4


def song(seconds: int, seed: int):
    """(references, estimates), float32 [source × sample × channel] as museval takes them."""
    rng = np.random.default_rng(seed)
    n = seconds * SAMPLE_RATE
    t = np.arange(n) / SAMPLE_RATE
    references = np.empty((SOURCES, n, 2), dtype=np.float32)
    for j, pole in enumerate((0.0, 0.5, 0.9, 0.97)):
        noise = scipy.signal.lfilter([1.0 - pole], [1.0, -pole], rng.uniform(-1.0, 1.0, n))
        mono = 0.2 * noise + 0.1 * np.sin(2 * np.pi * 110.0 * (j + 1) * t)
        for c, gain in enumerate((0.3 + 0.1 * j, 0.7 - 0.1 * j)):
            references[j, :, c] = gain * mono + 0.002 * rng.uniform(-1.0, 1.0, n)
    estimates = np.empty_like(references)
    for j in range(SOURCES):
        leak = references[(j + 1) % SOURCES]
        estimates[j] = references[j] + 0.2 * leak + 0.02 * rng.uniform(-1.0, 1.0, (n, 2))
    return references, estimates


def median_seconds(references, estimates, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        museval.evaluate(references, estimates, win=SAMPLE_RATE, hop=SAMPLE_RATE)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--song-repeats", type=int, default=1)
    args = parser.parse_args()
    excerpt = median_seconds(*song(30, 30), args.repeats)
    full = median_seconds(*song(180, 180), args.song_repeats)
    print(json.dumps({"museval_30s_s": excerpt, "museval_180s_s": full}))


if __name__ == "__main__":
    main()
