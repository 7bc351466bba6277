#!/usr/bin/env python3
"""Reference timings for core/benches/separator.rs: Separator-Tiny in PyTorch, same weights.

The network of core/src/models/separator.rs written with torch.nn modules whose parameter
names are candle's, so the shipped checkpoint (assets/separator-tiny/model-f16.safetensors,
the file tessera-core embeds; its config is in the safetensors metadata) loads into it with
load_state_dict(strict=True), converted from f16 to f32 as candle converts it:
- front end: torch.stft (n_fft 2048, hop 512, periodic Hann, centred, reflect padding, as
  Tessera's Stft) per channel; features per frame and bin below Nyquist: log1p of the left
  and right magnitudes over the chunk's mean magnitude (all bins, both channels; floored
  at 1e-6), and the bin's place 2f/bins − 1;
- encoder: per stage, merge time × freq neighbours into one position (reshape/permute),
  Linear, then x + fc2(gelu_tanh(fc1(LayerNorm(x)))) with hidden width 2×; the bottleneck
  tokens (time-major) plus 2D sin-cos positions (rows time, columns frequency) through the
  pre-norm ViT blocks of bench/jepa_step_reference.py and a final LayerNorm;
- decoder: bottleneck + innermost skip, then per stage innermost first the residual MLP,
  Linear, split back (depth-to-space), plus the skip of that resolution; the outermost
  stage expands straight to the 2 channels × 4 stems logits, plus bin_head(features);
- masks: softmax over the stems, the Nyquist bin taking the masks of the bin below,
  times the mixture's complex STFT; torch.istft with the same window, centring and the
  chunk's length (both divide by the window-sum-square, as librosa does). The masking is
  written the faster of the usual ways (see Separator.forward), so the comparison is with
  a PyTorch script that is not needlessly slow.

Before timing it checks parity with candle's outputs, which the Rust bench writes to
<target>/separator_parity.safetensors (four chunks of a seeded mixture of tones and noise):
the features torch computes from the same audio, the logits of this network on candle's
features, and the stems of the whole torch pipeline from the audio. Each maximum absolute
difference must stay within TOLERANCE of the largest candle value, or the script stops.

Timed under torch.inference_mode(), median seconds over --repeats runs after one warm-up,
for one chunk (as the streaming separator runs the model) and four:
- network_batchN: the network alone, features → mask logits;
- whole_batchN: audio → stems (STFT, features, network, masks, iSTFT).
Prints JSON {"network_batch1_s": ..., ..., "logits_max_abs_diff": ..., "torch_threads": 2}.
Usage: python3 bench/separator_reference.py [--repeats N] [--threads N]
"""
import argparse
import json
import os
import pathlib
import sys

import torch
import torch.nn as nn
from safetensors import safe_open
from safetensors.torch import load_file

from jepa_step_reference import Mlp, Transformer, median_seconds, sincos_2d

ROOT = pathlib.Path(__file__).resolve().parent.parent
CHECKPOINT = ROOT / "assets" / "separator-tiny" / "model-f16.safetensors"
# cargo's target folder: CARGO_TARGET_DIR when set (relative to the workspace), else target/.
PARITY = ROOT / os.environ.get("CARGO_TARGET_DIR", "target") / "separator_parity.safetensors"
# Chunks per call, as core/benches/separator.rs times them.
BATCHES = (1, 4)
# Largest difference allowed between torch and candle, relative to candle's largest value.
TOLERANCE = 1e-3
CHANNELS = 2
STEMS = 4


def merge(x, t, f):
    """(batch, T, F, C) → (batch, T/t, F/f, t·f·C): each t × f neighbourhood becomes one position."""
    b, frames, bins, c = x.shape
    return (x.reshape(b, frames // t, t, bins // f, f, c).permute(0, 1, 3, 2, 4, 5)
            .reshape(b, frames // t, bins // f, t * f * c))


def split(x, t, f):
    """The inverse of merge: (batch, T, F, t·f·C) → (batch, T·t, F·f, C)."""
    b, frames, bins, width = x.shape
    c = width // (t * f)
    return (x.reshape(b, frames, bins, t, f, c).permute(0, 1, 3, 2, 4, 5)
            .reshape(b, frames * t, bins * f, c))


class ResidualMlp(Mlp):
    """x + fc2(gelu(fc1(norm(x)))), hidden width 2 × dim."""

    def __init__(self, dim):
        super().__init__(dim, 2 * dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x):
        return x + super().forward(self.norm(x))


class DownBlock(nn.Module):
    def __init__(self, width, stage):
        super().__init__()
        self.t, self.f = stage["time"], stage["freq"]
        self.merge = nn.Linear(width * self.t * self.f, stage["channels"])
        self.mlp = ResidualMlp(stage["channels"])

    def forward(self, x):
        return self.mlp(self.merge(merge(x, self.t, self.f)))


class UpBlock(nn.Module):
    def __init__(self, width, stage):
        super().__init__()
        self.t, self.f = stage["time"], stage["freq"]
        self.mlp = ResidualMlp(stage["channels"])
        self.expand = nn.Linear(stage["channels"], width * self.t * self.f)

    def forward(self, x):
        return split(self.expand(self.mlp(x)), self.t, self.f)


class Encoder(nn.Module):
    def __init__(self, cfg, token_grid):
        super().__init__()
        widths = [3] + [stage["channels"] for stage in cfg["stages"]]
        self.down = nn.ModuleList(DownBlock(w, s) for w, s in zip(widths, cfg["stages"]))
        self.bottleneck = Transformer(cfg["bottleneck"])
        positions = sincos_2d(*token_grid, cfg["bottleneck"]["dim"])
        self.register_buffer("positions", positions, persistent=False)

    def forward(self, features):
        x, skips = features, []
        for block in self.down:
            skips.append(x)
            x = block(x)
        skips.append(x)
        b, rows, cols, dim = x.shape
        out, _ = self.bottleneck(x.reshape(b, rows * cols, dim) + self.positions)
        return skips, out


class Separator(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.n_fft, self.hop = cfg["n_fft"], cfg["hop"]
        self.bins = self.n_fft // 2
        self.frames = cfg["chunk_frames"]
        patch_t = patch_f = 1
        for stage in cfg["stages"]:
            patch_t, patch_f = patch_t * stage["time"], patch_f * stage["freq"]
        self.encoder = Encoder(cfg, (self.frames // patch_t, self.bins // patch_f))
        widths = [CHANNELS * STEMS] + [stage["channels"] for stage in cfg["stages"]]
        # Outermost first, as stored; applied innermost first.
        self.up = nn.ModuleList(UpBlock(w, s) for w, s in zip(widths, cfg["stages"]))
        self.bin_head = nn.Linear(3, CHANNELS * STEMS)
        self.register_buffer("window", torch.hann_window(self.n_fft, periodic=True),
                             persistent=False)
        self.register_buffer("position", 2 * torch.arange(self.bins) / self.bins - 1,
                             persistent=False)

    def stft(self, audio):
        """(batch, channels, samples) → complex (batch, channels, bins + 1, frames)."""
        b, c, samples = audio.shape
        spec = torch.stft(audio.reshape(b * c, samples), self.n_fft, self.hop, window=self.window,
                          center=True, pad_mode="reflect", return_complex=True)
        return spec.reshape(b, c, *spec.shape[1:])

    def features(self, spectrum):
        """Complex (batch, 2, bins + 1, frames) → (batch, frames, bins, 3)."""
        magnitude = spectrum.abs()
        mean = magnitude.mean(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6)
        log = torch.log1p(magnitude[:, :, :self.bins] / mean).permute(0, 3, 2, 1)
        position = self.position.expand(*log.shape[:3])[..., None]
        return torch.cat([log, position], dim=-1)

    def mask_logits(self, features):
        """(batch, frames, bins, 3) → (batch, frames, bins, channels, stems)."""
        skips, out = self.encoder(features)
        x = out.reshape(skips[-1].shape) + skips[-1]
        for block, skip in zip(reversed(self.up[1:]), reversed(skips[1:-1])):
            x = block(x) + skip
        logits = self.up[0](x) + self.bin_head(features)
        return logits.reshape(*logits.shape[:3], CHANNELS, STEMS)

    def forward(self, audio):
        """(batch, channels, samples) → stems (batch, stems, channels, samples)."""
        b, c, samples = audio.shape
        spectrum = self.stft(audio)
        # (batch, stems, channels, bins, frames): torch's softmax over a last dimension of
        # four ran 2.5× slower than over the permuted stems axis, and a complex × real
        # product 1.6× slower than the real view's.
        masks = self.mask_logits(self.features(spectrum)).permute(0, 4, 3, 2, 1).softmax(dim=1)
        masks = torch.cat([masks, masks[:, :, :, -1:]], dim=3)  # Nyquist: the bin below's masks
        stems = torch.view_as_complex(torch.view_as_real(spectrum)[:, None] * masks[..., None])
        waves = torch.istft(stems.reshape(b * STEMS * c, *stems.shape[3:]), self.n_fft, self.hop,
                            window=self.window, center=True, length=samples)
        return waves.reshape(b, STEMS, c, samples)


def load_separator():
    with safe_open(CHECKPOINT, "pt") as f:
        metadata = f.metadata()
    if metadata.get("kind") != "separator":
        sys.exit(f"{CHECKPOINT} is not a separator checkpoint: {metadata.get('kind')}")
    model = Separator(json.loads(metadata["config"]))
    prefix = "trainable."
    state = {k[len(prefix):]: v.float() for k, v in load_file(CHECKPOINT).items()
             if k.startswith(prefix)}
    model.load_state_dict(state, strict=True)
    return model.eval()


def parity(name, ours, candle):
    """Max |torch − candle|; stops the script when it exceeds TOLERANCE × max |candle|."""
    if ours.shape != candle.shape:
        sys.exit(f"parity: torch's {name} are {tuple(ours.shape)}, candle's {tuple(candle.shape)}")
    diff = (ours - candle).abs().max().item()
    scale = candle.abs().max().item()
    if not diff <= TOLERANCE * scale:
        sys.exit(f"parity: {name} differ by up to {diff:.3g}, more than {TOLERANCE:g} of their "
                 f"largest value {scale:.3g}: the PyTorch copy is not the candle separator")
    return diff, scale


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if not PARITY.exists():
        sys.exit(f"{PARITY} is missing: run `cargo bench -p tessera-core --bench separator` "
                 "first (it writes the input and candle's outputs this script checks against)")
    torch.set_num_threads(args.threads)
    candle = load_file(PARITY)
    audio = candle["audio"]
    if audio.shape[0] < max(BATCHES):
        sys.exit(f"{PARITY} holds {audio.shape[0]} chunks, the timings need {max(BATCHES)}")
    model = load_separator()

    result = {}
    with torch.inference_mode():
        checks = {
            "features": model.features(model.stft(audio)),
            "logits": model.mask_logits(candle["features"]),
            "stems": model(audio),
        }
        for name, ours in checks.items():
            diff, scale = parity(name, ours, candle[name])
            result[f"{name}_max_abs_diff"] = diff
            result[f"{name}_max_abs"] = scale
        for batch in BATCHES:
            chunks, features = audio[:batch], candle["features"][:batch]
            result[f"network_batch{batch}_s"] = median_seconds(
                lambda: model.mask_logits(features), args.repeats)
            result[f"whole_batch{batch}_s"] = median_seconds(lambda: model(chunks), args.repeats)
    result.update({
        "parity_tolerance": TOLERANCE,
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "repeats": args.repeats,
    })
    print(json.dumps(result))


if __name__ == "__main__":
    main()
