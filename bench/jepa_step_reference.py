#!/usr/bin/env python3
"""Reference timings for core/benches/jepa_step.rs: PupuJEPA-Tiny and WavJEPA-Tiny in PyTorch.

The same networks as tessera-core's candle models (core/src/models, core/src/nn), written
the way a PyTorch user would (I-JEPA's ViT code, wav2vec2's conv feature encoder):
- pre-norm ViT blocks: LayerNorm (eps 1e-6) → attention with one fused qkv Linear, scaled
  q·kᵀ, softmax, ·v → proj; LayerNorm → Linear → GELU (tanh) → Linear; final LayerNorm;
- PupuJEPA: 16 × 16 log-mel patches → Linear, 2D sin-cos positions (frequency, time);
  targets = LayerNorm (no affine) of the target encoder's output;
- WavJEPA: per-waveform instance norm → Conv1d stack (kernels (10,3,3,3,3,2), strides
  (5,2,2,2,2,2), no bias, GroupNorm with one group per channel after the first layer, GELU)
  → LayerNorm + Linear, 1D sin-cos positions; targets = mean of the instance-normalised
  top-K block outputs. wav2vec2 uses nn.Conv1d; the candle model computes the same
  convolutions as unfold + matmul;
- the predictor (Linear in, mask token, ViT, Linear out) runs once per target block, each
  with its sample's context repeated;
- the target encoder runs under torch.no_grad() (candle detaches its output instead).

Configs (widths, depths, heads, patch and conv geometry, top-K) and the exact context and
target token indices come from target/jepa_step_masks.json, which the Rust bench writes
before it times anything; the script stops if its trainable parameter count differs from
the candle model's. Inputs are uniform noise of the same shapes (16 log-mel clips of
128 × 256; 16 × 1 × 32000 waveforms).

Timed per model, median seconds over --repeats runs after one warm-up:
- forward: the loss (autograd recording, as in training);
- forward_backward: the loss and loss.backward();
- train_step: zero_grad, loss, backward, torch.optim.AdamW step (lr 1e-4, weight decay
  0.04) on the context encoder and predictor, EMA update of the target encoder
  (momentum 0.996).
Prints JSON {"pupu_jepa_tiny_forward_s": ..., ..., "torch_threads": 2, ...}.
Usage: python3 bench/jepa_step_reference.py [--repeats N] [--threads N]
"""
import argparse
import json
import math
import os
import pathlib
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = pathlib.Path(__file__).resolve().parent.parent
# cargo's target folder: CARGO_TARGET_DIR when set (relative to the workspace), else target/.
SHARED = ROOT / os.environ.get("CARGO_TARGET_DIR", "target") / "jepa_step_masks.json"
INIT_STD = 0.02
EMA_MOMENTUM = 0.996


def sincos_table(positions, dim):
    half = dim // 2
    omega = 1.0 / 10000.0 ** (torch.arange(half, dtype=torch.float64) / half)
    angle = torch.arange(positions, dtype=torch.float64)[:, None] * omega[None, :]
    return torch.cat([angle.sin(), angle.cos()], dim=1).float()


def sincos_2d(rows, cols, dim):
    half = dim // 2
    r = sincos_table(rows, half)[:, None, :].expand(rows, cols, half)
    c = sincos_table(cols, half)[None, :, :].expand(rows, cols, half)
    return torch.cat([r, c], dim=2).reshape(rows * cols, dim)


def linear(fan_in, fan_out, bias=True):
    layer = nn.Linear(fan_in, fan_out, bias=bias)
    nn.init.normal_(layer.weight, std=INIT_STD)
    if bias:
        nn.init.zeros_(layer.bias)
    return layer


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = linear(dim, 3 * dim)
        self.proj = linear(dim, dim)

    def forward(self, x):
        batch, tokens, dim = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        weights = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((weights @ v).transpose(1, 2).reshape(batch, tokens, dim))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = linear(dim, hidden)
        self.fc2 = linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class Block(nn.Module):
    """Parameters named as candle's (norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2),
    so a Tessera checkpoint loads into it (bench/separator_reference.py)."""

    def __init__(self, dim, heads, mlp_ratio):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, dim * mlp_ratio)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class Transformer(nn.Module):
    """Returns the normalised output and every block's output (top-K targets)."""

    def __init__(self, cfg):
        super().__init__()
        self.blocks = nn.ModuleList(
            Block(cfg["dim"], cfg["heads"], cfg["mlp_ratio"]) for _ in range(cfg["depth"]))
        self.norm = nn.LayerNorm(cfg["dim"], eps=1e-6)

    def forward(self, x):
        layers = []
        for block in self.blocks:
            x = block(x)
            layers.append(x)
        return self.norm(x), layers


def gather_tokens(source, indices):
    """(tokens, dim) shared by all rows, or (rows, tokens, dim) → (rows, len, dim)."""
    rows, length = indices.shape
    if source.dim() == 2:
        return source[indices.reshape(-1)].reshape(rows, length, -1)
    offsets = torch.arange(rows)[:, None] * source.shape[1]
    flat = source.reshape(-1, source.shape[-1])
    return flat.index_select(0, (indices + offsets).reshape(-1)).reshape(rows, length, -1)


class Masks:
    """The Rust bench's masks as index tensors: context (batch, len); target blocks
    (blocks, len) with the sample each block belongs to."""

    def __init__(self, masks):
        self.context = torch.tensor(masks["context"], dtype=torch.long)
        blocks = [(sample, block) for sample, per in enumerate(masks["targets"]) for block in per]
        self.owners = torch.tensor([sample for sample, _ in blocks], dtype=torch.long)
        self.targets = torch.tensor([block for _, block in blocks], dtype=torch.long)

    def gather_blocks(self, latents):
        tokens = latents.shape[1]
        flat = latents.reshape(-1, latents.shape[-1])
        global_idx = (self.targets + self.owners[:, None] * tokens).reshape(-1)
        return flat.index_select(0, global_idx).reshape(*self.targets.shape, -1)


class Predictor(nn.Module):
    def __init__(self, encoder_dim, cfg, positions):
        super().__init__()
        self.embed = linear(encoder_dim, cfg["dim"])
        self.mask_token = nn.Parameter(torch.randn(1, 1, cfg["dim"]) * INIT_STD)
        self.transformer = Transformer(cfg)
        self.proj = linear(cfg["dim"], encoder_dim)
        self.register_buffer("positions", positions)

    def forward(self, context, masks):
        context = self.embed(context) + gather_tokens(self.positions, masks.context)
        repeated = context.index_select(0, masks.owners)
        queries = self.mask_token + gather_tokens(self.positions, masks.targets)
        out, _ = self.transformer(torch.cat([repeated, queries], dim=1))
        return self.proj(out[:, masks.context.shape[1]:])


def per_dimension_std(latents):
    flat = latents.reshape(-1, latents.shape[-1])
    return (flat - flat.mean(0, keepdim=True)).pow(2).mean(0).sqrt().mean().item()


class SpectrogramEncoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.pf, self.pt = cfg["patch_freq"], cfg["patch_time"]
        self.rows, self.cols = cfg["mel"]["n_mels"] // self.pf, cfg["clip_frames"] // self.pt
        self.patch_embed = linear(self.pf * self.pt, cfg["encoder"]["dim"])
        self.transformer = Transformer(cfg["encoder"])
        self.register_buffer("positions", sincos_2d(self.rows, self.cols, cfg["encoder"]["dim"]))

    def forward(self, mel, keep=None):
        batch = mel.shape[0]
        patches = (mel.reshape(batch, self.rows, self.pf, self.cols, self.pt)
                   .permute(0, 1, 3, 2, 4).reshape(batch, self.rows * self.cols, self.pf * self.pt))
        tokens = self.patch_embed(patches) + self.positions
        if keep is not None:
            tokens = gather_tokens(tokens, keep)
        return self.transformer(tokens)


class PupuJepa(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.context = SpectrogramEncoder(cfg)
        self.target = SpectrogramEncoder(cfg)
        self.target.load_state_dict(self.context.state_dict())
        self.target.requires_grad_(False)
        positions = sincos_2d(self.context.rows, self.context.cols, cfg["predictor"]["dim"])
        self.predictor = Predictor(cfg["encoder"]["dim"], cfg["predictor"], positions)

    def loss(self, mel, masks):
        with torch.no_grad():
            out, _ = self.target(mel)
            targets = F.layer_norm(out, out.shape[-1:], eps=1e-6)
        per_dimension_std(targets)
        wanted = masks.gather_blocks(targets)
        context, _ = self.context(mel, masks.context)
        return (self.predictor(context, masks) - wanted).pow(2).mean()


class WaveformEncoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        fe = cfg["feature_encoder"]
        channels = fe["channels"]
        self.convs = nn.ModuleList()
        in_channels = 1
        for kernel, stride in zip(fe["kernels"], fe["strides"]):
            conv = nn.Conv1d(in_channels, channels, kernel, stride=stride, bias=False)
            nn.init.normal_(conv.weight, std=INIT_STD)
            self.convs.append(conv)
            in_channels = channels
        self.first_norm = nn.GroupNorm(channels, channels, eps=1e-5)
        self.norm = nn.LayerNorm(channels, eps=1e-6)
        self.proj = linear(channels, cfg["encoder"]["dim"])

    def forward(self, waveform):  # (batch, samples)
        mean = waveform.mean(-1, keepdim=True)
        var = waveform.var(-1, keepdim=True, unbiased=False)
        x = ((waveform - mean) / torch.sqrt(var + 1e-5))[:, None, :]
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i == 0:
                x = self.first_norm(x)
            x = F.gelu(x, approximate="tanh")
        return self.proj(self.norm(x.transpose(1, 2)))


class WaveformTransformer(nn.Module):
    def __init__(self, cfg, frames):
        super().__init__()
        self.waveform = WaveformEncoder(cfg)
        self.transformer = Transformer(cfg["encoder"])
        self.register_buffer("positions", sincos_table(frames, cfg["encoder"]["dim"]))

    def forward(self, audio, keep=None):  # (batch, 1, samples): one ear
        tokens = self.waveform(audio[:, 0]) + self.positions
        if keep is not None:
            tokens = gather_tokens(tokens, keep)
        return self.transformer(tokens)


def instance_norm_time(x):  # (batch, time, channels), over time
    return F.instance_norm(x.transpose(1, 2), eps=1e-5).transpose(1, 2)


class WavJepa(nn.Module):
    def __init__(self, cfg, frames):
        super().__init__()
        if cfg["ears"] != 1:
            sys.exit("jepa_step_reference.py mirrors WavJEPA with one ear only")
        self.top_k = cfg["top_k"]
        self.context = WaveformTransformer(cfg, frames)
        self.target = WaveformTransformer(cfg, frames)
        self.target.load_state_dict(self.context.state_dict())
        self.target.requires_grad_(False)
        self.predictor = Predictor(cfg["encoder"]["dim"], cfg["predictor"],
                                   sincos_table(frames, cfg["predictor"]["dim"]))

    def loss(self, audio, masks):
        with torch.no_grad():
            _, layers = self.target(audio)
            targets = torch.stack([instance_norm_time(l) for l in layers[-self.top_k:]]).mean(0)
        per_dimension_std(targets)
        wanted = masks.gather_blocks(targets)
        context, _ = self.context(audio, masks.context)
        return (self.predictor(context, masks) - wanted).pow(2).mean()


def median_seconds(fn, repeats):
    fn()  # warm-up (allocator, oneDNN primitives)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_model(name, model, inputs, masks, repeats):
    trainable = [p for n, p in model.named_parameters() if not n.startswith("target.")]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4, weight_decay=0.04)
    pairs = list(zip(model.target.parameters(), model.context.parameters()))

    def forward():
        return model.loss(inputs, masks)

    def forward_backward():
        model.zero_grad(set_to_none=True)
        model.loss(inputs, masks).backward()

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        model.loss(inputs, masks).backward()
        optimizer.step()
        with torch.no_grad():
            for target, online in pairs:
                target.mul_(EMA_MOMENTUM).add_(online.detach(), alpha=1.0 - EMA_MOMENTUM)

    return {
        f"{name}_forward_s": median_seconds(forward, repeats),
        f"{name}_forward_backward_s": median_seconds(forward_backward, repeats),
        f"{name}_train_step_s": median_seconds(train_step, repeats),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if not SHARED.exists():
        sys.exit(f"{SHARED} is missing: run `cargo bench -p tessera-core --bench jepa_step` first "
                 "(it writes the configs and masks this script mirrors)")
    shared = json.loads(SHARED.read_text())
    torch.set_num_threads(args.threads)
    torch.manual_seed(5)

    pupu = shared["pupu_jepa"]
    pupu_model = PupuJepa(pupu["config"])
    mel = torch.rand(pupu["input_shape"]) * 2 - 1
    wav = shared["wav_jepa"]
    wav_model = WavJepa(wav["config"], wav["frames"])
    waves = torch.rand(wav["input_shape"]) * 2 - 1

    for name, model, entry in [("PupuJEPA", pupu_model, pupu), ("WavJEPA", wav_model, wav)]:
        ours = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("target."))
        if ours != entry["trainable_params"]:
            sys.exit(f"{name}: the PyTorch mirror has {ours} trainable parameters, "
                     f"the candle model {entry['trainable_params']}: the architectures differ")

    result = {}
    result.update(time_model("pupu_jepa_tiny", pupu_model, mel, Masks(pupu["masks"]), args.repeats))
    result.update(time_model("wav_jepa_tiny", wav_model, waves, Masks(wav["masks"]), args.repeats))
    result.update({
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "pupu_jepa_trainable_params": pupu["trainable_params"],
        "wav_jepa_trainable_params": wav["trainable_params"],
    })
    print(json.dumps(result))


if __name__ == "__main__":
    main()
