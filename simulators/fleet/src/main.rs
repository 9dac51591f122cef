//! `examgate-fleet` (also `examgate-sim fleet`): N simulated seats against an exam-centre server.

use clap::Parser;

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "error".into()))
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(anyhow::Error::from);
    // `examgate-fleet exam ...`: seats taking an exam (issue 14's load).
    let report = if std::env::args().nth(1).as_deref() == Some("exam") {
        let args = examgate_fleet::exam::ExamArgs::parse_from(std::env::args().skip(1));
        rt.and_then(|rt| rt.block_on(examgate_fleet::exam::run(args))).map(|r| r.to_string())
    } else {
        let args = examgate_fleet::FleetArgs::parse();
        rt.and_then(|rt| rt.block_on(examgate_fleet::run(args))).map(|r| r.to_string())
    };
    match report {
        Ok(report) => {
            println!("{report}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("examgate-fleet: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
