//! What each subcommand of `examgate-agent` does. Errors carry context for
//! a person; `main` prints them.

mod camera;
mod card;

pub use camera::snapshot;
pub use card::{decode_sam, read_card};

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use examgate_device_sdk::{Device, DeviceClass, DeviceError, DriverFactory, Score, Template, TemplateFormat};

use crate::api::{self, AppState, Settings};
use crate::cli::{DevicesArgs, GetTemplateArgs, MatchArgs, RunArgs};
use crate::config::Config;
use crate::devices::{DeviceManager, Driver, ManagerOptions};
use crate::drivers;
use crate::host::HostOptions;
use crate::scheduler;
use crate::selector::DeviceSelector;
use crate::templates::{self, FieldNames};

/// How long shutdown waits for requests still running (a capture waiting
/// for a finger) and for device threads.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

fn load_config(path: Option<&Path>, extra: Vec<DeviceSelector>) -> anyhow::Result<Config> {
    let mut config = match path {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    config.devices.extend(extra);
    Ok(config)
}

fn open_drivers(config: &Config) -> anyhow::Result<Vec<Driver>> {
    let host = HostOptions { grace: config.host_grace, ..HostOptions::default() };
    config.devices.iter().map(|s| drivers::open(s, &host).map_err(anyhow::Error::from)).collect()
}

fn manager_options(config: &Config) -> ManagerOptions {
    ManagerOptions { grace: config.host_grace, ..ManagerOptions::default() }
}

/// `run`: serve the API until SIGINT or SIGTERM.
pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let mut config = load_config(args.config.as_deref(), args.devices)?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(dir) = args.link_dir {
        config.link.state_dir = Some(dir);
    }
    if args.console {
        config.link.role = crate::login::Role::Console;
    }
    let (server, outbox) = match &config.link.state_dir {
        Some(dir) => match crate::link::commands::enrolled_client(dir)? {
            Some(client) => (Some(client), Some(crate::link::outbox::Outbox::open(dir)?)),
            None => {
                tracing::warn!(dir = %dir.display(), "no enrolment there: login answers no_server until this PC is enrolled");
                (None, None)
            }
        },
        None => (None, None),
    };
    if config.devices.is_empty() {
        tracing::warn!("no devices configured; pass --device SELECTOR (for example --device sim:fingerprint)");
    }
    if !config.listen.ip().is_loopback() {
        tracing::warn!(listen = %config.listen, "listening beyond loopback: other machines can reach this agent");
    }
    // Bind first: a taken port is reported before any device is touched.
    let listener = std::net::TcpListener::bind(config.listen)
        .with_context(|| format!("cannot listen on {} (is another agent running?)", config.listen))?;
    listener.set_nonblocking(true).context("cannot make the listening socket non-blocking")?;
    let local = listener.local_addr().context("cannot read the listening address")?;
    config.listen = local;
    let drivers = open_drivers(&config)?;
    let manager = DeviceManager::start(drivers, manager_options(&config));
    let mut settings = Settings::from_config(&config);
    // The exam lives beside the enrolment (its store, the unpacked paper); a store
    // that cannot be opened stops the agent now rather than at the first answer.
    settings.exam = match (&config.link.state_dir, &server, &outbox) {
        (Some(dir), Some(client), Some(outbox)) => {
            let emitter = manager.clone();
            let exam = crate::exam::Exam::open(dir, Some(client.clone()), outbox.clone(), move |e| emitter.emit(e));
            match exam {
                Ok(exam) => Some(Arc::new(exam)),
                Err(e) => {
                    manager.shutdown(SHUTDOWN_GRACE);
                    return Err(anyhow::Error::from(e).context("the exam store"));
                }
            }
        }
        _ => None,
    };
    settings.login.server = server;
    settings.login.outbox = outbox;
    let state = AppState::new(manager.clone(), settings);
    // A store that cannot be used is reported now, not at the first snapshot.
    let cameras =
        config.devices.iter().any(|d| matches!(d, DeviceSelector::SimCamera { .. } | DeviceSelector::Webcam(_)));
    if (cameras || config.snapshots.schedule.is_some())
        && let Err(e) = state.snapshots().open()
    {
        manager.shutdown(SHUTDOWN_GRACE);
        return Err(e.into());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    tracing::info!(devices = manager.list().len(), "examgate-agent serving on http://{local}/");
    let served = runtime.block_on(serve(listener, state));
    tracing::info!("stopping devices");
    manager.shutdown(SHUTDOWN_GRACE);
    runtime.shutdown_timeout(Duration::from_millis(500));
    served
}

async fn serve(listener: std::net::TcpListener, state: AppState) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener).context("cannot use the listening socket")?;
    let app = api::app(state.clone());
    let scheduler =
        tokio::spawn(scheduler::run(state.devices().clone(), Arc::clone(state.snapshots()), state.stopping()));
    if let Some(outbox) = state.login().outbox() {
        let forward = crate::login::forward::forward_forever(
            state.devices().clone(),
            Arc::clone(state.snapshots()),
            outbox.clone(),
            state.stopping(),
        );
        drop(tokio::spawn(forward));
    }
    if let Some(exam) = state.exam() {
        drop(tokio::spawn(crate::exam::sync::run(Arc::clone(exam), state.stopping())));
    }
    if state.login().role() == crate::login::Role::Console {
        match state.login().server() {
            Some(_) => drop(tokio::spawn(api::console_cards(state.clone()))),
            None => tracing::warn!("--console without an enrolment (--link-dir): card reads go nowhere"),
        }
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            let _ = stopped.await;
        })
        .into_future();
    let mut server = std::pin::pin!(server);
    tokio::select! {
        result = &mut server => return result.context("the HTTP server failed"),
        signal = shutdown_signal() => tracing::info!("{signal}: shutting down"),
    }
    state.begin_shutdown();
    let _ = stop.send(());
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, scheduler).await;
    match tokio::time::timeout(SHUTDOWN_GRACE, server).await {
        Ok(result) => result.context("the HTTP server failed"),
        Err(_) => {
            tracing::warn!("requests still running after {SHUTDOWN_GRACE:?}; stopping anyway");
            Ok(())
        }
    }
}

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            tracing::warn!("cannot watch SIGTERM: {e}; only Ctrl-C stops the agent");
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}

/// `devices`: open every selector's driver, let the devices settle, print them.
pub fn devices(args: DevicesArgs) -> anyhow::Result<()> {
    let config = load_config(args.config.as_deref(), args.devices)?;
    if config.devices.is_empty() {
        bail!("no devices to list: pass --device SELECTOR (for example --device sim:fingerprint) or --config FILE");
    }
    let manager = DeviceManager::start(open_drivers(&config)?, manager_options(&config));
    let list = manager.device_list();
    manager.shutdown(SHUTDOWN_GRACE);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&list).context("cannot write JSON")?);
        return Ok(());
    }
    if list.devices.is_empty() {
        println!("no devices found");
        return Ok(());
    }
    let state = |d: &examgate_protocol::DeviceEntry| {
        serde_json::to_value(d.state).ok().and_then(|v| v.as_str().map(str::to_owned))
    };
    let rows: Vec<[String; 5]> = list
        .devices
        .iter()
        .map(|d| {
            let classes = d.classes.iter().filter_map(|c| serde_json::to_value(c).ok()?.as_str().map(str::to_owned));
            [
                d.id.clone(),
                state(d).unwrap_or_default(),
                classes.collect::<Vec<_>>().join(","),
                d.selector.clone(),
                d.name.clone(),
            ]
        })
        .collect();
    let header = ["ID", "STATE", "CLASSES", "SELECTOR", "NAME"].map(str::to_owned);
    let widths: Vec<usize> =
        (0..4).map(|i| rows.iter().chain([&header]).map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    for row in [&header].into_iter().chain(&rows) {
        println!(
            "{:w0$}  {:w1$}  {:w2$}  {:w3$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3]
        );
    }
    Ok(())
}

/// An error and its causes on one line, each cause once: several library
/// errors already repeat their source in their own message.
pub fn describe(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain().map(ToString::to_string) {
        if !line.contains(&cause) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&cause);
        }
    }
    line
}

/// Print `-1` on stdout and the message on stderr, as the legacy API
/// answers a failure.
fn legacy_failure(error: &anyhow::Error) -> ExitCode {
    println!("-1");
    eprintln!("{}", describe(error));
    ExitCode::FAILURE
}

/// The first fingerprint reader of a selector, opened.
fn open_reader(selector: &DeviceSelector) -> anyhow::Result<(Driver, Box<dyn Device>)> {
    let driver = drivers::open(selector, &HostOptions::default())?;
    let factory: &dyn DriverFactory = driver.factory.as_ref();
    let info = factory
        .discover()?
        .into_iter()
        .find(|i| i.classes.contains(DeviceClass::Fingerprint))
        .ok_or_else(|| DeviceError::NotConnected(format!("{selector} has no fingerprint reader")))?;
    let device = factory.open(&info.id)?;
    Ok((driver, device))
}

/// `get-template`: one capture, printed as the legacy GetTemplate answers.
pub fn get_template(args: GetTemplateArgs) -> ExitCode {
    let captured = (|| -> anyhow::Result<Template> {
        let (_driver, mut device) = open_reader(&args.device)?;
        let reader = device.as_fingerprint().context("the device is not a fingerprint reader")?;
        Ok(reader.get_template(Duration::from_millis(args.timeout_ms))?)
    })();
    match captured {
        Ok(template) => {
            tracing::info!(template = %template.log_tag(), "captured");
            println!("{}", templates::encode(&template.data));
            ExitCode::SUCCESS
        }
        Err(e) => legacy_failure(&e),
    }
}

/// A template file: raw bytes in a known format, or base64 text.
fn read_template(path: &Path) -> anyhow::Result<Template> {
    let label = path.display().to_string();
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {label}"))?;
    if let Some(format) = TemplateFormat::detect(&bytes, templates::VENDOR_MAGICS) {
        return Ok(Template::new(format, bytes));
    }
    let Ok(text) = std::str::from_utf8(&bytes) else {
        bail!("{label} holds neither a template in a known format nor base64 text");
    };
    Ok(templates::detect(templates::decode(text, &label)?, &label)?)
}

/// `match`: compare two files, printed as the legacy MatchSampleTemplate answers.
pub fn match_files(args: MatchArgs) -> ExitCode {
    let scored = (|| -> anyhow::Result<Score> {
        let probe = read_template(&args.file_a)?;
        let enrolled = read_template(&args.file_b)?;
        let (a, b) = (args.file_a.display().to_string(), args.file_b.display().to_string());
        let names = FieldNames { probe: &a, enrolled: &b };
        templates::comparable(&probe, &enrolled, names)?;
        match &args.device {
            Some(selector) => {
                let (_driver, mut device) = open_reader(selector)?;
                let reader = device.as_fingerprint().context("the device is not a fingerprint reader")?;
                Ok(reader.match_templates(&probe, &enrolled)?)
            }
            None => match templates::builtin_match(&probe, &enrolled, names) {
                Some(result) => Ok(result?),
                None => bail!(
                    "{} templates are a reader's own format; pass --device SELECTOR to compare them on that reader",
                    probe.format
                ),
            },
        }
    })();
    match scored {
        Ok(score) => {
            println!("{}", score.get());
            ExitCode::SUCCESS
        }
        Err(e) => legacy_failure(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_an_error_chain_without_repeating_causes() {
        let io = std::io::Error::other("no such file");
        let repeated = anyhow::Error::new(io).context("cannot load: no such file");
        assert_eq!(describe(&repeated), "cannot load: no such file");
        let layered = anyhow::anyhow!("port taken").context("cannot listen on 127.0.0.1:17480");
        assert_eq!(describe(&layered), "cannot listen on 127.0.0.1:17480: port taken");
    }
}
