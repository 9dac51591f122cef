//! `examgate-fleet` (also `examgate-sim fleet`): N simulated seats against an exam-centre server.

use clap::Parser;

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "error".into()))
        .init();
    let args = examgate_fleet::FleetArgs::parse();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(examgate_fleet::run(args)))
    {
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
