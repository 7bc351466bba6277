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
