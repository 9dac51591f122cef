//! `examgate-server sheet key | render | verify`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use super::pdf::Fonts;
use super::{Sources, verify_code, verify_pdf};
use crate::cli::Global;
use crate::exam::key::ServerKey;
use crate::seal::Sealer;
use crate::snapshots::SnapshotFiles;

#[derive(Debug, Subcommand)]
pub enum SheetCommand {
    /// Print the centre's public key (standard base64 of its 32 bytes) that signs sheets
    Key,
    /// Make the score sheet (PDF, A4) of a finished exam
    Render(RenderArgs),
    /// Check a sheet: its signature, printed fields and pictures; exits non-zero naming what differs
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The booking number of the exam
    pub booking: String,
    /// Where to write the PDF
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).multiple(true).args(["file", "qr"])))]
pub struct VerifyArgs {
    /// The sheet (PDF)
    pub file: Option<PathBuf>,
    /// The text of the sheet's QR code (EXG1.…), as a QR reader gives it; with FILE, checked against the PDF
    #[arg(long, value_name = "TEXT")]
    pub qr: Option<String>,
    /// The centre's public key (base64) to check against, instead of this server's own
    #[arg(long, value_name = "BASE64")]
    pub key: Option<String>,
    /// Print the signed facts as JSON
    #[arg(long)]
    pub json: bool,
}

pub async fn sheet(global: &Global, command: SheetCommand) -> anyhow::Result<()> {
    let config = crate::commands::config(global)?;
    let key = ServerKey::with_key_file(config.server_key_file());
    match command {
        SheetCommand::Key => {
            println!("{}", key.public_key_b64().context("cannot use the centre's signing key")?);
            Ok(())
        }
        SheetCommand::Render(args) => {
            let store = crate::store::open(&config.database).await.context("cannot open the database")?;
            let sealer = Sealer::with_key_file(config.roster.key_file.clone());
            let snapshots = SnapshotFiles::new(config.snapshot_dir());
            let sheet_config = super::SheetConfig::default();
            let src = Sources {
                store: store.as_ref(),
                sealer: &sealer,
                snapshots: &snapshots,
                key: &key,
                config: &sheet_config,
            };
            let sheet = super::make(&src, &args.booking).await?;
            let fonts = Fonts::debian()?;
            let pdf = tokio::task::spawn_blocking(move || sheet.pdf(&fonts)).await??;
            std::fs::write(&args.output, &pdf).with_context(|| format!("cannot write {}", args.output.display()))?;
            println!("wrote {} ({} bytes)", args.output.display(), pdf.len());
            Ok(())
        }
        SheetCommand::Verify(args) => {
            let public = match &args.key {
                Some(k) => k.clone(),
                None => key.public_key_b64().context("cannot use the centre's signing key")?,
            };
            let verdict = match &args.file {
                Some(file) => {
                    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
                    verify_pdf(&bytes, args.qr.as_deref(), &public)?
                }
                None => verify_code(args.qr.as_deref().unwrap_or_default(), &public).1,
            };
            if args.json
                && let Some(f) = &verdict.facts
            {
                println!("{}", serde_json::to_string_pretty(f)?);
            }
            for p in &verdict.problems {
                eprintln!("{p}");
            }
            if !verdict.ok() {
                bail!("the sheet does not verify: {} difference(s)", verdict.problems.len());
            }
            if !args.json {
                let f = verdict.facts.as_ref().context("no facts")?;
                println!("the sheet verifies: booking {}, score {}, signed by {public}", f.booking, f.score);
            }
            Ok(())
        }
    }
}
