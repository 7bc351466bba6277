//! Fixed sin-cos position embeddings (MAE / I-JEPA style).

use candle_core::{Device, Result, Tensor};

/// `positions × dim` sin-cos embedding of the integer positions `0..positions`: the first
/// half of the features are sines, the second half cosines, at geometric frequencies
/// `1 / 10000^(2i/dim)`.
pub fn sincos_1d(positions: usize, dim: usize, device: &Device) -> Result<Tensor> {
    let values = sincos_table(positions, dim)?;
    Tensor::from_vec(values, (positions, dim), device)
}

/// `(rows · cols) × dim` embedding of a grid, row-major (`index = row · cols + col`): the
/// first half of the features encode the row, the second half the column. For spectrogram
/// patches rows are frequency and columns time, so the two axes stay separate — the
/// "frequency-aware" positions of PupuJEPA; for WavJEPA-Nat rows are the ears.
pub fn sincos_2d(rows: usize, cols: usize, dim: usize, device: &Device) -> Result<Tensor> {
    if !dim.is_multiple_of(4) {
        candle_core::bail!("2D sin-cos embedding needs a dim divisible by 4, got {dim}");
    }
    let half = dim / 2;
    let row_table = sincos_table(rows, half)?;
    let col_table = sincos_table(cols, half)?;
    let mut values = Vec::with_capacity(rows * cols * dim);
    for r in 0..rows {
        for c in 0..cols {
            values.extend_from_slice(&row_table[r * half..(r + 1) * half]);
            values.extend_from_slice(&col_table[c * half..(c + 1) * half]);
        }
    }
    Tensor::from_vec(values, (rows * cols, dim), device)
}

fn sincos_table(positions: usize, dim: usize) -> Result<Vec<f32>> {
    if !dim.is_multiple_of(2) {
        candle_core::bail!("sin-cos embedding needs an even dim, got {dim}");
    }
    let half = dim / 2;
    let mut table = vec![0f32; positions * dim];
    for (p, row) in table.chunks_mut(dim).enumerate() {
        for i in 0..half {
            let omega = 1.0 / 10000f64.powf(i as f64 / half as f64);
            let angle = p as f64 * omega;
            row[i] = angle.sin() as f32;
            row[half + i] = angle.cos() as f32;
        }
    }
    Ok(table)
}
