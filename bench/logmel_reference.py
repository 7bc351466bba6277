#!/usr/bin/env python3
"""Reference timings for core/benches/logmel.rs ("logmel_1024_160_128_60s_16k").

Log-mel of 60 s of 16 kHz mono noise, n_fft 1024, hop 160, 128 mels, power 2, dB with
top_db 80, centred frames with reflect padding:
- librosa: librosa.power_to_db(librosa.feature.melspectrogram(...), top_db=80)
- torch:   torchaudio.transforms.MelSpectrogram + AmplitudeToDB("power", top_db=80)
           (Slaney scale and norm as librosa), CPU, torch's default thread count.
           If torchaudio cannot be imported (e.g. its build does not match torch's), the
           same computation is done with the ops torchaudio uses (torch.stft, |.|², matmul
           with the filterbank, 10·log10 clamp and top_db) and "torch_impl" says so.
Prints JSON {"librosa_s": median seconds, "torch_s": median seconds, ...}.
Usage: python3 bench/logmel_reference.py [--repeats N]
"""
import argparse
import json
import statistics
import time

import librosa
import numpy as np
import torch

SR, N_FFT, HOP, N_MELS, SECONDS = 16000, 1024, 160, 128, 60


def median_seconds(fn, repeats):
    fn()  # warm-up (plans, caches, lazy imports)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()

    rng = np.random.default_rng(1024)
    y = rng.uniform(-1.0, 1.0, SR * SECONDS).astype(np.float32)

    def with_librosa():
        mel = librosa.feature.melspectrogram(
            y=y, sr=SR, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS,
            center=True, pad_mode="reflect", power=2.0,
        )
        return librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=80.0)

    y_t = torch.from_numpy(y)
    try:
        import torchaudio

        mel_t = torchaudio.transforms.MelSpectrogram(
            sample_rate=SR, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS, center=True,
            pad_mode="reflect", power=2.0, norm="slaney", mel_scale="slaney",
        )
        to_db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=80.0)
        torch_impl = "torchaudio"

        def with_torch():
            with torch.inference_mode():
                return to_db(mel_t(y_t))
    except (ImportError, RuntimeError) as err:
        window = torch.hann_window(N_FFT, periodic=True)
        fb = torch.from_numpy(librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=N_MELS)).T.contiguous()
        torch_impl = f"torch ops (torchaudio unavailable: {str(err).splitlines()[0][:80]})"

        def with_torch():
            with torch.inference_mode():
                spec = torch.stft(y_t, n_fft=N_FFT, hop_length=HOP, window=window, center=True,
                                  pad_mode="reflect", return_complex=True).abs().pow(2.0)
                mel = torch.matmul(spec.transpose(-1, -2), fb).transpose(-1, -2)
                db = 10.0 * torch.log10(torch.clamp(mel, min=1e-10))
                return torch.max(db, db.max() - 80.0)

    print(json.dumps({
        "librosa_s": median_seconds(with_librosa, args.repeats),
        "torch_s": median_seconds(with_torch, args.repeats),
        "torch_impl": torch_impl,
        "torch_threads": torch.get_num_threads(),
        "repeats": args.repeats,
    }))


if __name__ == "__main__":
    main()
