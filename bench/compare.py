#!/usr/bin/env python3
"""Side-by-side speed of Tessera's DSP and the reference implementations, in one run.

Runs the criterion benchmarks of tessera-core, then the librosa / torch timings of the same
work on the same signal shapes (bench/*_reference.py), and prints the markdown table that
BENCHMARKS.md holds. Usage (from the workspace root):

    python3 bench/compare.py            # both benchmarks
    python3 bench/compare.py stft       # one of them
"""
import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent

# criterion bench target, criterion benchmark id, reference script, what is measured
BENCHES = {
    "stft": ("stft", "stft_2048_512_60s_stereo", "bench/stft_reference.py",
             "STFT n_fft 2048 hop 512, 60 s 44.1 kHz stereo"),
    "logmel": ("logmel", "logmel_1024_160_128_60s_16k", "bench/logmel_reference.py",
               "log-mel n_fft 1024 hop 160 128 mels, 60 s 16 kHz mono"),
}


def criterion_median_seconds(bench_id: str) -> float:
    estimates = ROOT / "target" / "criterion" / bench_id / "new" / "estimates.json"
    return json.loads(estimates.read_text())["median"]["point_estimate"] * 1e-9


def run(names):
    rows = []
    for name in names:
        target, bench_id, script, what = BENCHES[name]
        subprocess.run(["cargo", "bench", "-p", "tessera-core", "--bench", target, "--",
                        "--noplot", bench_id], cwd=ROOT, check=True)
        tessera = criterion_median_seconds(bench_id)
        reference = json.loads(subprocess.run([sys.executable, script], cwd=ROOT, check=True,
                                              capture_output=True, text=True).stdout)
        rows.append((what, tessera, reference))
    print("| work | Tessera | librosa | torch | speed-up vs librosa | speed-up vs torch |")
    print("| --- | --- | --- | --- | --- | --- |")
    for what, tessera, ref in rows:
        librosa, torch = ref.get("librosa_s"), ref.get("torch_s")
        cells = [f"{tessera * 1e3:.1f} ms"]
        cells += [f"{t * 1e3:.1f} ms" if t else "n/a" for t in (librosa, torch)]
        cells += [f"{t / tessera:.2f}×" if t else "n/a" for t in (librosa, torch)]
        print(f"| {what} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    run(sys.argv[1:] or list(BENCHES))
