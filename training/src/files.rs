//! Finding input files: everything under a folder with one of a set of extensions.

use std::path::{Path, PathBuf};

use anyhow::Context;
use walkdir::WalkDir;

/// Files under `dir`, recursively, whose extension is one of `extensions` (compared without
/// regard to case), sorted by path so runs are reproducible. An unreadable folder is an
/// error naming it; links are followed.
pub fn files_with_extensions(dir: &Path, extensions: &[&str]) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in WalkDir::new(dir).follow_links(true).sort_by_file_name() {
        let entry = entry.with_context(|| format!("could not list {}", dir.display()))?;
        let wanted = entry.path().extension().is_some_and(|ext| {
            extensions
                .iter()
                .any(|known| ext.eq_ignore_ascii_case(known))
        });
        if entry.file_type().is_file() && wanted {
            found.push(entry.into_path());
        }
    }
    Ok(found)
}

/// Replaces `path` with `bytes` atomically: a sibling temporary file renamed over it, so a
/// killed run leaves either the old or the new file, never half of one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = std::fs::write(&temp, bytes).and_then(|()| std::fs::rename(&temp, path));
    if result.is_err() {
        // Best effort: the write already failed; a leftover temp file is only clutter.
        let _ = std::fs::remove_file(&temp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}
