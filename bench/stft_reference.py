"""Reference timings for core/benches/stft.rs: librosa.stft and torch.stft (CPU) on 60 s of
stereo 44.1 kHz float32 noise, n_fft 2048, hop 512, Hann, centred with reflect padding.

Prints {"librosa_s": ..., "torch_s": ..., ...} (median seconds per stereo transform) to
stdout. torch runs with `--threads` threads (default: torch's own default, all cores);
librosa/numpy's FFT is single-threaded.

    python3 bench/stft_reference.py [--repeats 7] [--threads N]
"""

import argparse
import json
import statistics
import time

import librosa
import numpy as np
import torch

SAMPLE_RATE = 44_100
SECONDS = 60
N_FFT = 2048
HOP = 512


def median_seconds(run, repeats: int) -> float:
    run()  # warm-up: plans, caches, lazy imports
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    rng = np.random.default_rng(2048)
    stereo = rng.uniform(-1.0, 1.0, size=(2, SAMPLE_RATE * SECONDS)).astype(np.float32)
    stereo_torch = torch.from_numpy(stereo)
    window = torch.hann_window(N_FFT, periodic=True)

    def run_librosa():
        # Each channel separately, like the Rust benchmark.
        for channel in stereo:
            librosa.stft(channel, n_fft=N_FFT, hop_length=HOP, window="hann", center=True, pad_mode="reflect")

    def run_torch():
        for channel in stereo_torch:
            torch.stft(channel, n_fft=N_FFT, hop_length=HOP, window=window, center=True,
                       pad_mode="reflect", return_complex=True)

    result = {
        "librosa_s": median_seconds(run_librosa, args.repeats),
        "torch_s": median_seconds(run_torch, args.repeats),
        "torch_threads": torch.get_num_threads(),
        "repeats": args.repeats,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
