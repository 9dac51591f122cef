//! The command line of `examgate-server` (clap derive). What each command
//! does lives in [`crate::commands`].

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::store::{MachineRole, Role};

#[derive(Debug, Parser)]
#[command(
    name = "examgate-server",
    version,
    about = "The examgate exam-centre server: seats bound by MAC, IP and key, deliveries stored once, an audit chain",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// TOML config file (every field is optional)
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Database: sqlite:PATH or postgres://USER@HOST/DB (default: SQLite in the data directory)
    #[arg(long, global = true, value_name = "URL")]
    pub database: Option<String>,
    /// Directory for the database, snapshots and the certificate (default: ./examgate-data)
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve agents and the console (HTTPS with a self-made certificate; prints its pin)
    Serve(ServeArgs),
    /// Write a backup of the whole centre to FILE (consistent while the server runs)
    Backup(FileArg),
    /// Restore a backup into an empty database (SQLite or PostgreSQL, whichever made it)
    Restore(FileArg),
    /// The audit chain
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Examiner and invigilator accounts
    #[command(subcommand)]
    User(UserCommand),
    /// Seats from the server's own shell: list, approve, rebind (audited as the cli)
    #[command(subcommand)]
    Seat(SeatCommand),
    /// The day's bookings: import a CSV or JSON roster, list, purge what is due
    #[command(subcommand)]
    Roster(RosterCommand),
    /// The question bank: import QTI packages, a JSON bank or TOML rules; list
    #[command(subcommand)]
    Bank(crate::exam::cli::BankCommand),
    /// Exam definitions: list, check that the bank can fill one
    #[command(subcommand)]
    Exam(crate::exam::cli::ExamCommand),
    /// Draw or score the paper of an exam and seed, exactly as the server does
    #[command(subcommand)]
    Paper(crate::exam::cli::PaperCommand),
    /// The signed score sheet of a finished exam: the centre's key, render a PDF, verify one
    #[command(subcommand)]
    Sheet(crate::sheet::cli::SheetCommand),
    /// Print the certificate's SHA-256 pin (making the certificate if there is none)
    Pin,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on, instead of the config's (default 0.0.0.0:8443)
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Plain HTTP: only behind a TLS-terminating proxy on the same host, or in tests
    #[arg(long)]
    pub no_tls: bool,
    /// Tests only: the exam centre's day is DATE (YYYY-MM-DD), as at its noon, instead of
    /// the clock's: today's bookings, card validity and the purge. A test run that crosses
    /// midnight keeps its day. Hidden: an exam centre runs on its clock.
    #[arg(long, value_name = "DATE", hide = true)]
    pub today: Option<String>,
}

#[derive(Debug, Args)]
pub struct FileArg {
    pub file: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the chain and name every edited, deleted or reordered row (exit 1 if any)
    Verify,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account; the password is read from the first line of stdin
    Add(UserAddArgs),
    /// Set an account's password, read from the first line of stdin
    Passwd(UserNameArg),
    /// List the accounts
    List,
}

#[derive(Debug, Subcommand)]
pub enum SeatCommand {
    /// Bound seats and the PCs waiting for one
    List,
    /// Bind a waiting PC (by key id) to a seat
    Approve(BindArgs),
    /// Give a bound seat to another enrolled PC (spare-PC takeover)
    Rebind(BindArgs),
}

#[derive(Debug, Subcommand)]
pub enum RosterCommand {
    /// Import a roster file (.csv or .json; photo and template paths relative to it); all or nothing
    Import(FileArg),
    /// The bookings of one exam date
    List(RosterListArgs),
    /// Remove the photos, templates and verification evidence that are due now
    Purge,
}

#[derive(Debug, Args)]
pub struct RosterListArgs {
    /// YYYY-MM-DD (default: today in the exam centre)
    #[arg(long, value_name = "DATE")]
    pub date: Option<String>,
}

#[derive(Debug, Args)]
pub struct BindArgs {
    /// The seat number
    pub seat: String,
    /// The PC's key id, as `seat list` shows it
    #[arg(long, value_name = "KEY_ID")]
    pub key: String,
    /// The IP to bind (default: the one the PC enrolled from)
    #[arg(long, value_name = "IP")]
    pub ip: Option<String>,
    /// approve only: seat (an exam PC, the default) or console (the examiner's PC, which reads ID cards)
    #[arg(long, value_name = "ROLE")]
    pub role: Option<MachineRole>,
}

#[derive(Debug, Args)]
pub struct UserAddArgs {
    pub username: String,
    /// examiner or invigilator
    #[arg(long)]
    pub role: Role,
}

#[derive(Debug, Args)]
pub struct UserNameArg {
    pub username: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn help_lists_every_subcommand() {
        let help = Cli::command().render_help().to_string();
        for visible in ["serve", "backup", "restore", "audit", "user", "seat", "pin"] {
            assert!(help.contains(visible), "{visible} missing from:\n{help}");
        }
        let audit = Cli::try_parse_from(["examgate-server", "audit", "verify", "--database", "sqlite:x.db"]).unwrap();
        assert!(matches!(audit.command, Command::Audit(AuditCommand::Verify)));
        assert_eq!(audit.global.database.as_deref(), Some("sqlite:x.db"));
    }
}
