#!/usr/bin/env python3
"""Side-by-side speed of Tessera and the reference implementations, in one run.

Runs the criterion benchmarks of tessera-core, then the librosa / torch / scikit-learn
timings of the same work on the same data shapes (bench/*_reference.py), and prints the
markdown table BENCHMARKS.md holds. Usage, from the workspace root:

    python3 bench/compare.py                 # every benchmark
    python3 bench/compare.py stft logmel     # some of them
    python3 bench/compare.py jepa_step       # JEPA training steps, candle vs PyTorch
    python3 bench/compare.py separator       # Separator-Tiny inference, candle vs PyTorch

`sdr` also needs museval (`apt-get install ffmpeg && pip install museval`).

OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are removed from the reference scripts' environment:
they are set on some machines here as a workaround for old OpenBLAS builds and slow numpy.
"""
import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent

# name: (criterion group, reference script,
#        [(criterion id, what is measured, audio seconds or None, [(reference, json key)])])
BENCHES = {
    "stft": ("stft", "bench/stft_reference.py", [
        ("stft_2048_512_60s_stereo", "STFT n_fft 2048 hop 512, 60 s 44.1 kHz stereo", 60,
         [("librosa", "librosa_s"), ("torch", "torch_s")]),
        ("stft_2048_512_60s_stereo_reused_output", "same, output array reused", 60,
         [("librosa", "librosa_s"), ("torch", "torch_s")]),
    ]),
    "logmel": ("logmel", "bench/logmel_reference.py", [
        ("logmel_1024_160_128_60s_16k", "log-mel n_fft 1024 hop 160 128 mels, 60 s 16 kHz", 60,
         [("librosa", "librosa_s"), ("torch", "torch_s")]),
    ]),
    "primitives": ("primitives", "bench/primitives_reference.py", [
        ("hpss_10s", "HPSS (kernel 31) of a 1025 × 1001 magnitude (10 s, 2048/441)", 10,
         [("librosa", "librosa_hpss_s")]),
        ("primitive_features_10s_stereo", "all six primitives + 48-dim patch features, 10 s 44.1 kHz stereo", 10,
         []),
    ]),
    "sdr": ("sdr", "bench/sdr_reference.py", [
        ("bss_eval_v4_30s_4src_stereo", "BSS Eval v4 (1-s windows, 512 taps), 4 stereo sources, 30 s", 30,
         [("museval", "museval_30s_s")]),
        ("bss_eval_v4_180s_4src_stereo", "BSS Eval v4 (1-s windows, 512 taps), 4 stereo sources, 3-min song", 180,
         [("museval", "museval_180s_s")]),
    ]),
    "kmeans": ("kmeans", "bench/kmeans_reference.py", [
        ("kmeans_assign_100k_48_k256", "k-means assign, 100 000 × 48, k 256", None,
         [("scikit-learn", "sklearn_assign_s")]),
        ("kmeans_lloyd_fit_100k_48_k256_20it", "k-means++ + 20 Lloyd iterations, 100 000 × 48, k 256", None,
         [("scikit-learn", "sklearn_s")]),
        ("kmeans_minibatch_fit_100k_48_k256", "mini-batch k-means (batch 4096), 100 000 × 48, k 256", None,
         [("scikit-learn", "sklearn_minibatch_s")]),
    ]),
    # Batches of 16 clips: 16 × 2.56 s of log-mel (PupuJEPA), 16 × 2 s of waveform (WavJEPA).
    "jepa_step": ("jepa_step", "bench/jepa_step_reference.py", [
        (f"{model}_{part}", f"{title}, batch 16: {what}", seconds_per_batch, [("torch", f"{model}_{part}_s")])
        for model, title, seconds_per_batch in [
            ("pupu_jepa_tiny", "PupuJEPA-Tiny", 16 * 2.56),
            ("wav_jepa_tiny", "WavJEPA-Tiny", 16 * 2.0),
        ]
        for part, what in [
            ("forward", "loss forward"),
            ("forward_backward", "forward + backward"),
            ("train_step", "train step (forward, backward, AdamW, EMA)"),
        ]
    ]),
    # Separator-Tiny's 256-frame chunks (255 hops of 512 samples, 2.96 s of 44.1 kHz stereo):
    # one, as the streaming separator runs the model, and four.
    "separator": ("separator", "bench/separator_reference.py", [
        (f"{part}_batch{batch}", f"Separator-Tiny, {batch} × 2.96 s stereo: {what}",
         batch * 255 * 512 / 44_100, [("torch", f"{part}_batch{batch}_s")])
        for batch in (1, 4)
        for part, what in [
            ("network", "network (features → mask logits)"),
            ("whole", "whole chunk (STFT, features, network, masks, iSTFT)"),
        ]
    ]),
}


def target_dir() -> pathlib.Path:
    """Where cargo builds: CARGO_TARGET_DIR when set (relative to the workspace), else target/."""
    return ROOT / os.environ.get("CARGO_TARGET_DIR", "target")


def criterion_median_seconds(group: str, bench_id: str) -> float:
    estimates = target_dir() / "criterion" / group / bench_id / "new" / "estimates.json"
    return json.loads(estimates.read_text())["median"]["point_estimate"] * 1e-9


def reference_timings(script: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENBLAS_")}
    out = subprocess.run([sys.executable, script], cwd=ROOT, check=True, capture_output=True,
                         text=True, env=env).stdout
    return json.loads(out)


def seconds(t: float) -> str:
    return f"{t * 1e3:.1f} ms" if t < 10 else f"{t:.1f} s"


def main(names):
    rows = []
    for name in names:
        group, script, cases = BENCHES[name]
        subprocess.run(["cargo", "bench", "-p", "tessera-core", "--bench", name, "--", "--noplot"],
                       cwd=ROOT, check=True)
        reference = reference_timings(script)
        for bench_id, what, audio_seconds, references in cases:
            ours = criterion_median_seconds(group, bench_id)
            realtime = f"{audio_seconds / ours:.0f}× real time" if audio_seconds else ""
            if not references:
                rows.append((what, seconds(ours), realtime, "—", "—", "—"))
            for label, key in references:
                theirs = reference[key]
                rows.append((what, seconds(ours), realtime, label, seconds(theirs), f"{theirs / ours:.2f}×"))
        extras = {k: v for k, v in reference.items() if not k.endswith("_s")}
        if extras:
            print(f"{name} reference details: {json.dumps(extras)}", file=sys.stderr)
    print("| work | Tessera | | reference | reference time | Tessera speed-up |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main(sys.argv[1:] or list(BENCHES))
