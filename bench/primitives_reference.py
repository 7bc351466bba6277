#!/usr/bin/env python3
"""librosa timing for core/benches/primitives.rs (`hpss_10s`): librosa.decompose.hpss with its
defaults (kernel 31, power 2, margin 1) on a float32 magnitude of the same shape as the Rust
benchmark's, the 2048/441 STFT of 10 s at 44.1 kHz: 1025 bins × 1001 frames. Prints JSON
{"librosa_hpss_s": median seconds per call, "shape": [bins, frames]}.

    python3 bench/primitives_reference.py [--repeats 7]
"""
import argparse
import json
import statistics
import time

import librosa
import numpy as np

SAMPLE_RATE, SECONDS, N_FFT, HOP = 44_100, 10, 2048, 441


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    rng = np.random.default_rng(10)
    signal = rng.uniform(-1.0, 1.0, SAMPLE_RATE * SECONDS).astype(np.float32)
    magnitude = np.abs(librosa.stft(signal, n_fft=N_FFT, hop_length=HOP, pad_mode="reflect"))

    # librosa caches hpss results only when a joblib cache is configured (off by default).
    librosa.decompose.hpss(magnitude)  # warm-up
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        librosa.decompose.hpss(magnitude)
        times.append(time.perf_counter() - start)
    print(json.dumps({"librosa_hpss_s": statistics.median(times), "shape": list(magnitude.shape)}))


if __name__ == "__main__":
    main()
