//! Labelled manifests: the one CSV format every probe and evaluation reads, so users can bring
//! their own data sets.
//!
//! ```csv
//! path,label,split,start,end
//! drums/kick_01.wav,kick,train,,
//! songs/take3.flac,vocals,test,12.5,16.5
//! ```
//!
//! The header names the columns: `path`, `label` and `split` are required, `start` and `end`
//! (seconds within the file; an empty cell means the file's start or end) are optional, in that
//! order. Relative paths are resolved against the manifest's folder. Labels and splits are
//! free-form but non-empty.
//!
//! A clip with several labels (a multi-label task, e.g. the instruments playing in it)
//! lists them in its label cell separated by `;` — `drums;bass;vocals`, quoted by the CSV
//! writer only if a label holds a comma. A manifest in which any cell holds a `;` is a
//! multi-label task for `tessera probe` (`crate::probe::LABEL_SEPARATOR`); other
//! manifests are single-label.
//!
//! `tessera probe` reads the split column as follows: rows `train` train, `valid` choose the
//! learning rate and stopping epoch, `test` are scored.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The columns in the order they are written; the first three are required.
const COLUMNS: [&str; 5] = ["path", "label", "split", "start", "end"];

/// One labelled piece of audio.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestEntry {
    /// The audio file (made absolute against the manifest's folder when read).
    pub path: PathBuf,
    /// The class the audio belongs to (instrument, pitch, genre, source file, ...).
    pub label: String,
    /// Which part of the data set it belongs to, e.g. `train`, `valid`, `test`.
    pub split: String,
    /// Start of the labelled region in seconds; `None` means the file's start.
    pub start: Option<f64>,
    /// End of the labelled region in seconds; `None` means the file's end.
    pub end: Option<f64>,
}

/// A labelled data set: entries in file order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Manifest {
    /// The entries, in the order of the file.
    pub entries: Vec<ManifestEntry>,
}

impl Manifest {
    /// Reads the manifest at `path`. Errors name the file and, for bad rows, the line: a
    /// missing or unknown column, an empty path, label or split, a number that does not parse
    /// or is negative, or `start ≥ end`.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        Ok(Self::read_with_lines(path)?.0)
    }

    /// [`read`](Self::read), also returning the line of the file each entry came from, so
    /// later checks (e.g. that the audio exists) can name it.
    pub fn read_with_lines(path: &Path) -> anyhow::Result<(Self, Vec<u64>)> {
        let file = path.display();
        let text = fs::read(path).with_context(|| format!("{file}: cannot read the manifest"))?;
        let base = path.parent().unwrap_or(Path::new(""));
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_slice());
        let header = reader
            .headers()
            .with_context(|| format!("{file}: cannot read the header line"))?
            .clone();
        let columns = header_columns(&header).with_context(|| format!("{file} line 1"))?;
        let (mut entries, mut lines) = (Vec::new(), Vec::new());
        for record in reader.records() {
            let record = record.map_err(|err| csv_error(path, err))?;
            let line = record.position().map_or(0, |p| p.line());
            let entry = parse_entry(&record, columns, base)
                .with_context(|| format!("{file} line {line}"))?;
            entries.push(entry);
            lines.push(line);
        }
        Ok((Self { entries }, lines))
    }

    /// Writes the manifest to `path`, atomically (a temporary file renamed over it). Paths
    /// inside the manifest's folder are written relative to it. The `start,end` columns are
    /// written only when some entry has a region.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let file = path.display();
        let base = path.parent().unwrap_or(Path::new(""));
        let with_region = self
            .entries
            .iter()
            .any(|e| e.start.is_some() || e.end.is_some());
        let columns = if with_region { 5 } else { 3 };
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(&COLUMNS[..columns])?;
        for entry in &self.entries {
            let shown = entry.path.strip_prefix(base).unwrap_or(&entry.path);
            let shown = shown.to_str().with_context(|| {
                format!("{file}: path {} is not valid UTF-8", entry.path.display())
            })?;
            let number = |x: Option<f64>| x.map(|x| x.to_string()).unwrap_or_default();
            let row = [
                shown.to_owned(),
                entry.label.clone(),
                entry.split.clone(),
                number(entry.start),
                number(entry.end),
            ];
            writer.write_record(&row[..columns])?;
        }
        let bytes = writer
            .into_inner()
            .map_err(|err| anyhow::anyhow!("{file}: cannot format the manifest: {err}"))?;
        let name = path
            .file_name()
            .map_or_else(|| "manifest".into(), |n| n.to_string_lossy().into_owned());
        let temp = base.join(format!(".{name}.{}.tmp", std::process::id()));
        let result = fs::write(&temp, bytes).and_then(|()| fs::rename(&temp, path));
        if result.is_err() {
            // Best effort: the write already failed; a leftover temp file is only clutter.
            let _ = fs::remove_file(&temp);
        }
        result.with_context(|| format!("{file}: cannot write the manifest"))
    }

    /// The entries of one split.
    pub fn entries_in<'a>(&'a self, split: &'a str) -> impl Iterator<Item = &'a ManifestEntry> {
        self.entries.iter().filter(move |e| e.split == split)
    }

    /// The distinct labels, sorted.
    pub fn labels(&self) -> Vec<&str> {
        let mut labels: Vec<&str> = self.entries.iter().map(|e| e.label.as_str()).collect();
        labels.sort_unstable();
        labels.dedup();
        labels
    }

    /// The distinct splits, sorted.
    pub fn splits(&self) -> Vec<&str> {
        let mut splits: Vec<&str> = self.entries.iter().map(|e| e.split.as_str()).collect();
        splits.sort_unstable();
        splits.dedup();
        splits
    }

    /// Entry counts per split and label.
    pub fn counts(&self) -> BTreeMap<(&str, &str), usize> {
        let mut counts = BTreeMap::new();
        for entry in &self.entries {
            *counts
                .entry((entry.split.as_str(), entry.label.as_str()))
                .or_insert(0) += 1;
        }
        counts
    }
}

/// Checks the header: `path,label,split` then optionally `start` and `end`, in that order.
/// Returns how many columns the rows have.
fn header_columns(header: &csv::StringRecord) -> anyhow::Result<usize> {
    let expected = "expected the header path,label,split[,start,end]";
    for (i, name) in header.iter().enumerate() {
        match COLUMNS.get(i) {
            Some(&wanted) if name.eq_ignore_ascii_case(wanted) => {}
            Some(&wanted) => bail!(
                "column {} is \"{name}\" where \"{wanted}\" belongs; {expected}",
                i + 1
            ),
            None => bail!("unknown extra column \"{name}\"; {expected}"),
        }
    }
    if header.len() < 3 {
        bail!("missing column \"{}\"; {expected}", COLUMNS[header.len()]);
    }
    Ok(header.len())
}

/// Turns a csv reader error (wrong field count, bad UTF-8) into one sentence with the line.
fn csv_error(path: &Path, err: csv::Error) -> anyhow::Error {
    let line = err.position().map_or(0, |p| p.line());
    let what = match err.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("expected {expected_len} fields like the header, found {len}"),
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_owned(),
        _ => err.to_string(),
    };
    anyhow::anyhow!("{} line {line}: {what}", path.display())
}

/// Parses one data row with `columns` fields; relative paths are joined to `base`.
fn parse_entry(
    record: &csv::StringRecord,
    columns: usize,
    base: &Path,
) -> anyhow::Result<ManifestEntry> {
    let field = |i: usize| record.get(i).unwrap_or("");
    let required = |i: usize| {
        let value = field(i);
        if value.is_empty() {
            bail!("the {} is empty", COLUMNS[i]);
        }
        Ok(value.to_owned())
    };
    let (path, label, split) = (required(0)?, required(1)?, required(2)?);
    let number = |i: usize| -> anyhow::Result<Option<f64>> {
        if i >= columns || field(i).is_empty() {
            return Ok(None);
        }
        let text = field(i);
        let value: f64 = text
            .parse()
            .ok()
            .filter(|x: &f64| x.is_finite())
            .with_context(|| format!("{} \"{text}\" is not a number of seconds", COLUMNS[i]))?;
        if value < 0.0 {
            bail!("{} {value} is negative", COLUMNS[i]);
        }
        Ok(Some(value))
    };
    let (start, end) = (number(3)?, number(4)?);
    if let (Some(start), Some(end)) = (start, end)
        && start >= end
    {
        bail!("start {start} is not before end {end}");
    }
    Ok(ManifestEntry {
        // Joining keeps an absolute path as it is.
        path: base.join(path),
        label,
        split,
        start,
        end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(label: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("tessera-manifest-{}-{label}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Writes `text` as a manifest and returns what reading it gives, errors as one string.
    fn read_text(dir: &Path, text: &str) -> Result<Manifest, String> {
        let path = dir.join("m.csv");
        std::fs::write(&path, text).unwrap();
        Manifest::read(&path).map_err(|e| format!("{e:#}"))
    }

    #[test]
    fn reads_paths_labels_splits_and_regions() {
        let dir = scratch("read");
        let manifest = read_text(
            &dir,
            "path,label,split,start,end\n\
             a.wav,kick,train,,\n\
             sub/b.flac,snare,test,1.5,3\n\
             /abs/c.ogg,kick,train,2,\n",
        )
        .unwrap();
        assert_eq!(manifest.entries.len(), 3);
        assert_eq!(manifest.entries[0].path, dir.join("a.wav"));
        assert_eq!(manifest.entries[1].path, dir.join("sub/b.flac"));
        assert_eq!(manifest.entries[2].path, PathBuf::from("/abs/c.ogg"));
        assert_eq!(
            (manifest.entries[1].start, manifest.entries[1].end),
            (Some(1.5), Some(3.0))
        );
        assert_eq!(
            (manifest.entries[2].start, manifest.entries[2].end),
            (Some(2.0), None)
        );
        assert_eq!(manifest.labels(), ["kick", "snare"]);
        assert_eq!(manifest.splits(), ["test", "train"]);
        assert_eq!(manifest.entries_in("train").count(), 2);
        assert_eq!(manifest.counts()[&("train", "kick")], 2);

        let short = read_text(&dir, "path,label,split\nx.wav,a,valid\n").unwrap();
        assert_eq!(short.entries[0].start, None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn every_bad_row_names_the_file_and_line() {
        let dir = scratch("errors");
        let cases = [
            (
                "path,label\na.wav,x\n",
                "line 1",
                "missing column \"split\"",
            ),
            (
                "path,split,label\na.wav,x,y\n",
                "line 1",
                "\"label\" belongs",
            ),
            (
                "path,label,split,start,end,gain\n",
                "line 1",
                "extra column \"gain\"",
            ),
            (
                "path,label,split\na.wav,x,train\nb.wav,y\n",
                "line 3",
                "expected 3 fields",
            ),
            ("path,label,split\na.wav,x,\n", "line 2", "split is empty"),
            ("path,label,split\n,x,train\n", "line 2", "path is empty"),
            (
                "path,label,split\na.wav,,train\n",
                "line 2",
                "label is empty",
            ),
            (
                "path,label,split,start,end\na.wav,x,train,abc,2\n",
                "line 2",
                "start \"abc\" is not a number",
            ),
            (
                "path,label,split,start,end\na.wav,x,train,1,nan\n",
                "line 2",
                "end \"nan\" is not a number",
            ),
            (
                "path,label,split,start,end\na.wav,x,train,-1,2\n",
                "line 2",
                "negative",
            ),
            (
                "path,label,split,start,end\na.wav,x,train,1,1\n\nb.wav,x,train,3,2\n",
                "line 2",
                "start 1 is not before end 1",
            ),
        ];
        for (text, line, what) in cases {
            let message = read_text(&dir, text).unwrap_err();
            assert!(
                message.contains("m.csv") && message.contains(line) && message.contains(what),
                "{text:?} gave: {message}"
            );
        }
        let missing = format!("{:#}", Manifest::read(&dir.join("none.csv")).unwrap_err());
        assert!(missing.contains("none.csv"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn writing_then_reading_gives_the_same_manifest() {
        let dir = scratch("round-trip");
        let entry = |path: PathBuf, label: &str, split: &str, start, end| ManifestEntry {
            path,
            label: label.into(),
            split: split.into(),
            start,
            end,
        };
        let manifest = Manifest {
            entries: vec![
                entry(
                    dir.join("crop_00000.wav"),
                    "song, \"live\".ogg",
                    "train",
                    None,
                    None,
                ),
                entry(dir.join("a/b.wav"), "b", "test", Some(0.25), Some(4.125)),
                entry(
                    PathBuf::from("/elsewhere/c.wav"),
                    "c",
                    "valid",
                    None,
                    Some(2.0),
                ),
            ],
        };
        let path = dir.join("manifest.csv");
        manifest.write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("path,label,split,start,end\ncrop_00000.wav,"),
            "{text}"
        );
        assert_eq!(Manifest::read(&path).unwrap(), manifest);

        let plain = Manifest {
            entries: vec![entry(dir.join("x.wav"), "x", "train", None, None)],
        };
        plain.write(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "path,label,split\nx.wav,x,train\n"
        );
        assert_eq!(Manifest::read(&path).unwrap(), plain);
        let leftovers = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(leftovers, 1, "only manifest.csv, no temp files");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
