//! `examgate-server`, the exam-centre server. A thin CLI over the `examgate_server` library.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use examgate_server::cli::{AuditCommand, Cli, Command, RosterCommand, SeatCommand, UserCommand};
use examgate_server::commands::{self, Bind};
use tracing_subscriber::EnvFilter;

fn init_logging(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(if matches!(cli.command, Command::Serve(_)) { "info,sqlx=warn" } else { "warn" });
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("examgate-server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let g = &cli.global;
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => commands::serve(g, args).await,
            Command::Backup(f) => commands::backup(g, &f.file).await,
            Command::Restore(f) => commands::restore(g, &f.file).await,
            Command::Audit(AuditCommand::Verify) => commands::audit_verify(g).await,
            Command::User(UserCommand::Add(args)) => commands::user_add(g, args).await,
            Command::User(UserCommand::Passwd(u)) => commands::user_passwd(g, &u.username).await,
            Command::User(UserCommand::List) => commands::user_list(g).await,
            Command::Seat(SeatCommand::List) => commands::seat_list(g).await,
            Command::Seat(SeatCommand::Approve(a)) => commands::seat_bind(g, a, Bind::Approve).await,
            Command::Seat(SeatCommand::Rebind(a)) => commands::seat_bind(g, a, Bind::Rebind).await,
            Command::Roster(RosterCommand::Import(f)) => commands::roster_import(g, &f.file).await,
            Command::Roster(RosterCommand::List(a)) => commands::roster_list(g, a.date.as_deref()).await,
            Command::Roster(RosterCommand::Purge) => commands::roster_purge(g).await,
            Command::Bank(c) => examgate_server::exam::cli::bank(g, c).await,
            Command::Exam(c) => examgate_server::exam::cli::exam(g, c).await,
            Command::Paper(c) => examgate_server::exam::cli::paper(g, c).await,
            Command::Sheet(c) => examgate_server::sheet::cli::sheet(g, c).await,
            Command::Pin => commands::pin(g),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("examgate-server: {}", commands::describe(&e));
            ExitCode::FAILURE
        }
    }
}
