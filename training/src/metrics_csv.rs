//! The metrics CSV every training loop writes next to its checkpoints and reads back when a
//! run resumes: a header line, then one row of numbers per step.

use std::path::Path;

use anyhow::Context;

use crate::files::write_atomic;

/// A logged step that converts to and from a row of numbers.
pub trait MetricsRow: Sized {
    /// The CSV header: the column names, comma-separated.
    const HEADER: &'static str;

    /// The row's values in header order.
    fn values(&self) -> Vec<f64>;

    /// The row from values in header order (as many as the header has columns).
    fn from_values(values: &[f64]) -> Self;

    /// Steps completed when the row was logged: every header starts with `step`.
    fn step(&self) -> usize {
        self.values()[0] as usize
    }
}

/// The mean of `value` over the last `window` rows (what a loop reports at a checkpoint).
pub fn recent_mean<R>(rows: &[R], window: usize, value: impl Fn(&R) -> f64) -> f64 {
    let recent = &rows[rows.len().saturating_sub(window)..];
    recent.iter().map(value).sum::<f64>() / recent.len() as f64
}

/// Writes `rows` to `path` atomically.
pub fn write_rows<R: MetricsRow>(path: &Path, rows: &[R]) -> anyhow::Result<()> {
    let mut text = format!("{}\n", R::HEADER);
    for row in rows {
        let values: Vec<String> = row.values().iter().map(f64::to_string).collect();
        text.push_str(&values.join(","));
        text.push('\n');
    }
    write_atomic(path, text.as_bytes())
}

/// Reads the rows of a file written by [`write_rows`]; no file means no rows yet.
pub fn read_rows<R: MetricsRow>(path: &Path) -> anyhow::Result<Vec<R>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let columns = R::HEADER.split(',').count();
    text.lines()
        .skip(1)
        .enumerate()
        .map(|(i, line)| {
            let values: Vec<f64> = line
                .split(',')
                .map(str::parse)
                .collect::<Result<_, _>>()
                .ok()
                .filter(|v: &Vec<f64>| v.len() == columns)
                .with_context(|| {
                    format!("{}: line {} is not a metrics row", path.display(), i + 2)
                })?;
            Ok(R::from_values(&values))
        })
        .collect()
}
