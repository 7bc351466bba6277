//! The command-line surface (clap). Each subcommand's arguments live next to the command
//! that uses them.

use clap::{Parser, Subcommand};

use crate::commands::attention::AttentionArgs;
use crate::commands::bench::BenchArgs;
use crate::commands::cluster::ClusterArgs;
use crate::commands::data::DataArgs;
use crate::commands::eval::EvalArgs;
use crate::commands::features::FeaturesArgs;
use crate::commands::finetune::FinetuneArgs;
use crate::commands::multiview::MultiviewArgs;
use crate::commands::pretrain::PretrainArgs;
use crate::commands::probe::ProbeArgs;
use crate::commands::separate::SeparateArgs;
use crate::commands::spectrogram::SpectrogramArgs;

/// Tessera: self-supervised music models, from data to the DAW.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Draw the log-mel spectrogram of an audio file as a PNG and print its statistics.
    Spectrogram(SpectrogramArgs),
    /// Draw where PupuJEPA's predictor looks to predict a masked region of a clip.
    Attention(AttentionArgs),
    /// Make or inspect training and evaluation data.
    Data(DataArgs),
    /// Compute per-patch features of audio files (e.g. PaC-HuBERT's primitive features).
    Features(FeaturesArgs),
    /// Fit k-means centroids on feature files, or assign cluster labels with them.
    Cluster(ClusterArgs),
    /// Pretrain a self-supervised model (PupuJEPA, WavJEPA, WavJEPA-Nat) on folders of audio.
    Pretrain(PretrainArgs),
    /// Train a model on labelled data (the stem separator), optionally from a pretrained encoder.
    Finetune(FinetuneArgs),
    /// Split recordings into vocals, drums, bass and other stems.
    Separate(SeparateArgs),
    /// Evaluate a model (separation SDR against the oracle and a baseline).
    Eval(EvalArgs),
    /// Benchmark suites: every encoder probed on every task, and the claims they decide.
    Bench(BenchArgs),
    /// Train linear or HEAR-MLP probes on frozen embeddings of a labelled manifest and
    /// report accuracy, macro-F1 and the confusion matrix.
    Probe(ProbeArgs),
    /// Disentangle pitch and instrument family of notes into private and shared codes
    /// (multi-view paper): train, evaluate with probes, or sweep the paper's grid.
    Multiview(MultiviewArgs),
}
