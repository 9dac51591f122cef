//! The command line of `examgate-agent` (clap derive). What each command does
//! lives in [`crate::commands`].

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::selector::DeviceSelector;

const SELECTORS: &str = "Device selectors:
  sim:fingerprint[?seed=N&delay_ms=N&finger=N|none&readers=N]   the built-in simulated fingerprint reader
  sim:camera[?size=WxH&format=F&name=NAME&scene=S&delay_ms=N]    the built-in simulated camera
  plugin:/path/libvendor.so[?isolation=in-process]               a vendor plugin (in a driver host by default)
  pcsc-idcard[:READER NAME]                                      ID card readers through PC/SC (pcscd)
  sam:serial:/dev/ttyUSB0[?baud=N] | sam:hid:VID:PID             an ID card reader on a GA 467 SAM module
  webcam[:INDEX|:NAME][?size=WxH&format=F&fps=N]                 cameras through V4L2
  as60x:PATH[?baud=N&password=N] | as60x:auto                    AS608 / R30x module on a serial port";

#[derive(Debug, Parser)]
#[command(
    name = "examgate-agent",
    version,
    about = "The examgate seat agent: one local API over the exam PC's fingerprint reader, ID card reader and webcam",
    after_help = SELECTORS,
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the local API: REST under /v1/, the /v1/events WebSocket, the legacy interface and the seat page
    #[command(after_help = SELECTORS)]
    Run(RunArgs),
    /// Discover the devices the selectors find, and print them
    #[command(after_help = SELECTORS)]
    Devices(DevicesArgs),
    /// Vendor plugins
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Capture one template and print it as the legacy GetTemplate does: base64, or -1 and the error on stderr
    #[command(after_help = SELECTORS)]
    GetTemplate(GetTemplateArgs),
    /// Compare two template files and print the score 1..1000 (above 800 is a match), or -1 and the error on stderr
    #[command(after_help = SELECTORS)]
    Match(MatchArgs),
    /// Read the ID card on a PC/SC reader once and print it
    ReadCard(ReadCardArgs),
    /// Decode a raw GA 467 SAM reply frame to a card read (30 01 or 30 10) saved in a file
    DecodeSam(DecodeSamArgs),
    /// Enrol this PC with the exam-centre server (a new key pair; its MACs, IP, host name); an examiner approves it
    Enrol(crate::link::EnrolArgs),
    /// The link to the exam-centre server: the outbox's deliveries, heartbeats, commands
    #[command(subcommand)]
    Link(crate::link::LinkCommand),
    /// Take one picture with a camera, write it as a JPEG and say what the tamper checks see in it
    #[command(after_help = SELECTORS)]
    Snapshot(SnapshotArgs),
    /// Run a plugin for a parent agent over the socket on stdin (started by the agent itself)
    #[command(hide = true)]
    DriverHost(DriverHostArgs),
    /// Decode one WLT photo (stdin) to JPEG (stdout) with a vendor decoder: the agent's child process
    #[command(hide = true)]
    DecodeWlt(DecodeWltArgs),
}

#[derive(Debug, Args)]
pub struct DecodeWltArgs {
    /// The photo decoder plugin to load
    #[arg(long, value_name = "PATH")]
    pub decoder: PathBuf,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// TOML config file (every field is optional)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A device to serve, in addition to the config's; repeat for more
    #[arg(long = "device", value_name = "SELECTOR")]
    pub devices: Vec<DeviceSelector>,
    /// Address to listen on, instead of the config's (default 127.0.0.1:17480)
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// The enrolment directory (examgate-agent enrol --state-dir): login calls the server through it
    #[arg(long, value_name = "DIR")]
    pub link_dir: Option<PathBuf>,
    /// This PC is the examiner's console: every ID card inserted is read and sent to the server (login mode a)
    #[arg(long)]
    pub console: bool,
}

#[derive(Debug, Args)]
pub struct DevicesArgs {
    /// Print JSON, as GET /v1/devices answers
    #[arg(long)]
    pub json: bool,
    /// A device selector to look at, in addition to the config's; repeat for more
    #[arg(long = "device", value_name = "SELECTOR")]
    pub devices: Vec<DeviceSelector>,
    /// TOML config file whose devices to list
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Run the driver conformance suite against a plugin library and report
    Check(PluginCheckArgs),
}

#[derive(Debug, Args)]
pub struct PluginCheckArgs {
    /// The plugin's shared library
    pub path: PathBuf,
    /// Load the plugin into this process instead of a driver host (a crash then ends the check)
    #[arg(long)]
    pub in_process: bool,
}

#[derive(Debug, Args)]
pub struct GetTemplateArgs {
    /// The reader to capture with
    #[arg(long, value_name = "SELECTOR")]
    pub device: DeviceSelector,
    /// How long to wait for a finger
    #[arg(long, value_name = "N", default_value_t = 15_000)]
    pub timeout_ms: u64,
}

#[derive(Debug, Args)]
pub struct MatchArgs {
    /// The fresh template: raw bytes or base64 text
    pub file_a: PathBuf,
    /// The enrolled template: raw bytes or base64 text
    pub file_b: PathBuf,
    /// Compare with this reader's matcher instead of the one built in for the format
    #[arg(long, value_name = "SELECTOR")]
    pub device: Option<DeviceSelector>,
}

#[derive(Debug, Args)]
pub struct ReadCardArgs {
    /// Only readers whose name contains NAME (default: the first reader with a card on it)
    #[arg(long, value_name = "NAME")]
    pub reader: Option<String>,
    /// Print the card as JSON, as POST /v1/idcard/read answers
    #[arg(long)]
    pub json: bool,
    /// How long to wait for a card
    #[arg(long, value_name = "N", default_value_t = 15_000)]
    pub timeout_ms: u64,
}

#[derive(Debug, Args)]
pub struct DecodeSamArgs {
    /// The frame's file, exactly as the SAM sent it (preamble to checksum); - reads standard input
    #[arg(value_name = "FILE|-")]
    pub file: PathBuf,
    /// Print the card as JSON, as POST /v1/idcard/read answers
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// The camera (sim:camera, webcam, webcam:0, plugin:...)
    #[arg(long, value_name = "SELECTOR")]
    pub device: DeviceSelector,
    /// Where to write the JPEG (created readable by this user only: it is a photo of a person)
    #[arg(short = 'o', long = "output", value_name = "FILE.jpg")]
    pub output: PathBuf,
    /// How long to wait for a frame
    #[arg(long, value_name = "N", default_value_t = 5_000)]
    pub timeout_ms: u64,
}

#[derive(Debug, Args)]
pub struct DriverHostArgs {
    /// The plugin to load
    #[arg(long, value_name = "PATH")]
    pub plugin: PathBuf,
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
    fn parses_repeated_devices_and_rejects_bad_selectors_clearly() {
        let cli =
            Cli::try_parse_from(["examgate-agent", "run", "--device", "sim:fingerprint", "--device", "plugin:/x.so"])
                .unwrap();
        let Command::Run(run) = cli.command else { panic!("not run") };
        assert_eq!(run.devices.len(), 2);
        let err = Cli::try_parse_from(["examgate-agent", "run", "--device", "usb:1"]).unwrap_err().to_string();
        assert!(err.contains("unknown device selector \"usb:1\""), "{err}");
    }

    #[test]
    fn driver_host_is_hidden_from_help() {
        let help = Cli::command().render_help().to_string();
        assert!(!help.contains("driver-host"), "{help}");
        for visible in ["run", "devices", "plugin", "get-template", "match", "read-card", "decode-sam", "snapshot"] {
            assert!(help.contains(visible), "{visible} missing from:\n{help}");
        }
    }
}
