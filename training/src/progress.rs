//! Progress bars in one style for every long-running command.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar over `total` units of work named `what`; hidden when stderr is not a terminal, so
/// logs and tests stay clean.
pub fn bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {percent:>3}% ({eta} left)")
            .map(|style| style.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(what.to_owned());
    bar
}
