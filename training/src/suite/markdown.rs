//! The suite as the markdown section of RESULTS.md it regenerates.

use std::fmt::Write as _;

use super::SuiteResult;
use super::config::SuiteConfig;
use crate::evaluation::attention_stems;

/// The markers around the part of RESULTS.md the suite owns.
const BEGIN: &str =
    "<!-- tessera bench suite: begin (regenerated; edit the suite file instead) -->";
const END: &str = "<!-- tessera bench suite: end -->";

/// `document` with the suite's part replaced by `section` (appended when it has none).
pub fn splice_section(document: &str, section: &str) -> String {
    let block = format!("{BEGIN}\n{}\n{END}", section.trim_end());
    match (document.find(BEGIN), document.find(END)) {
        (Some(begin), Some(end)) if begin < end => format!(
            "{}{block}{}",
            &document[..begin],
            &document[end + END.len()..]
        ),
        _ => format!("{}\n\n{block}\n", document.trim_end()),
    }
}

/// Probing tables, s(m), the attention–stem table and the claims.
pub fn results_section(result: &SuiteResult, config: &SuiteConfig) -> String {
    let mut md = String::new();
    let probe = &result.probe;
    let _ = writeln!(md, "## Probing suite: every encoder on every task\n");
    let _ = writeln!(
        md,
        "Frozen embeddings (per clip, mean over time; layer: `{}`), a `{}` probe (HEAR's \
         protocol: learning-rate grid, early stopping on a validation split, at most {} \
         epochs, seed {}), test accuracy on held-out clips. s(m) is the WavJEPA paper's \
         appendix-B score: per task, the improvement over `{}` as a share of the best \
         encoder's, floored at 0, averaged, in percent.\n",
        probe.layer, probe.probe, probe.max_epochs, probe.seed, result.baseline
    );
    let _ = writeln!(
        md,
        "| task | training clips | test clips |\n| --- | --- | --- |"
    );
    for task in &config.tasks {
        let test = if task.test == task.train {
            "its `test` rows".to_owned()
        } else {
            format!("`{}`", task.test.display())
        };
        let _ = writeln!(
            md,
            "| {} | `{}` | {test} |",
            task.name,
            task.train.display()
        );
    }
    let _ = writeln!(md, "\nAccuracy (mAP for multi-label tasks):\n");
    let _ = write!(md, "| encoder |");
    for task in &result.tasks {
        let _ = write!(md, " {task} |");
    }
    let _ = writeln!(md, " s(m) |");
    let _ = writeln!(md, "|{}", " --- |".repeat(result.tasks.len() + 2));
    for (e, name) in result.encoders.iter().enumerate() {
        let _ = write!(md, "| {name} |");
        for score in &result.scores[e] {
            let _ = write!(md, " {score:.3} |");
        }
        let _ = writeln!(md, " {:.1} |", result.generalisability[e]);
    }
    let _ = writeln!(md, "\nMacro-F1:\n");
    let _ = write!(md, "| encoder |");
    for task in &result.tasks {
        let _ = write!(md, " {task} |");
    }
    let _ = writeln!(md, "\n|{}", " --- |".repeat(result.tasks.len() + 1));
    for (e, name) in result.encoders.iter().enumerate() {
        let _ = write!(md, "| {name} |");
        for f1 in &result.macro_f1[e] {
            match f1 {
                Some(f1) => {
                    let _ = write!(md, " {f1:.3} |");
                }
                None => md.push_str(" – |"),
            }
        }
        md.push('\n');
    }
    let encoders: Vec<String> = config
        .encoders
        .iter()
        .map(|e| format!("{} = `{}`", e.name, e.encoder))
        .collect();
    let _ = writeln!(md, "\nEncoders: {}.", encoders.join("; "));
    if let Some(alignments) = &result.attention_stems {
        let _ = writeln!(
            md,
            "\n### Attention–stem alignment (PupuJEPA-Tiny)\n\nShare of the predictor's \
             attention on context patches the masked region's stem dominates, against chance \
             by area and against attention that knows only the region's position (see \
             `tessera eval attention-stems --help`).\n"
        );
        md.push_str(&attention_stems::markdown_table(alignments));
    }
    if let Some(sweep) = &result.multiview {
        let _ = writeln!(
            md,
            "\n### Multi-view disentanglement\n\nFrozen `{}` latents of the notes (layer {}), \
             linear probes (50 % input dropout) on the private code z_p, the shared code z_s \
             and both, for pitch and instrument family (see `tessera multiview sweep --help`).\n",
            sweep.source.encoder,
            sweep
                .source
                .layer
                .map_or("last".to_owned(), |l| l.to_string())
        );
        md.push_str(&sweep.markdown_table());
    }
    let _ = writeln!(
        md,
        "\n### The seeds' claims\n\n| claim | verdict | numbers |\n| --- | --- | --- |"
    );
    for claim in &result.claims {
        let _ = writeln!(
            md,
            "| {} | **{}** | {} |",
            claim.claim,
            claim.verdict.text(),
            claim.evidence
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_replaces_only_the_suites_part() {
        let first = splice_section("# Results\n\nIntro.", "old table");
        assert!(first.starts_with("# Results\n\nIntro.\n\n"));
        let document = format!("{first}\n## Later section\n");
        let second = splice_section(&document, "new table\n");
        assert!(second.contains("new table") && !second.contains("old table"));
        assert!(
            second.starts_with("# Results\n\nIntro.") && second.ends_with("## Later section\n")
        );
        assert_eq!(second.matches(BEGIN).count(), 1);
    }
}
