//! `examgate-agent enrol` and `examgate-agent link run|status`.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use examgate_protocol::link::{
    Answer, BindingState, Command, Delivery, DeliveryItem, DeviceHealth, EnrolRequest, PushMessage,
};
use examgate_protocol::{DeviceList, SelectorState, Timestamp};

use super::client::LinkClient;
use super::identity::{Identity, LOCAL_COMMAND_TOKEN};
use super::outbox::Outbox;
use super::service::{Delivered, Link, Pacing, describe_command};
use super::tls::Pin;
use super::{KEY_FILE, LinkFile, host};

pub const DEFAULT_STATE_DIR: &str = "examgate-agent-state";

#[derive(Debug, Args)]
pub struct EnrolArgs {
    /// The exam-centre server: https://HOST:PORT
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// SHA-256 pin of the server's certificate, as examgate-server prints it
    #[arg(long, value_name = "SHA256")]
    pub pin: String,
    /// Where the private key, link.toml and the outbox are kept
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// The MAC to report (default: the interface that routes to the server)
    #[arg(long, value_name = "MAC")]
    pub mac: Option<String>,
    /// Wait until an examiner approves this PC, then print its seat
    #[arg(long)]
    pub wait: bool,
}

#[derive(Debug, Subcommand)]
pub enum LinkCommand {
    /// Deliver the outbox, send heartbeats and take commands from the server (after enrol)
    Run(LinkRunArgs),
    /// Print this PC's binding and the outbox's state
    Status(StateDirArg),
    /// Queue N numbered test items and deliver them (the delivery tests' load)
    #[command(hide = true)]
    Load(LoadArgs),
}

#[derive(Debug, Args)]
pub struct StateDirArg {
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct LinkRunArgs {
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// The local agent's API (http://127.0.0.1:17480): device health for heartbeats, snapshots on command,
    /// and every command the server pushes (POST /v1/link/commands: login assignments, decisions, warnings)
    #[arg(long, value_name = "URL")]
    pub agent: Option<String>,
    /// Seconds between heartbeats
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub heartbeat_secs: u64,
    /// Longest wait between retries while the server is away
    #[arg(long, value_name = "MS", default_value_t = 30_000, hide = true)]
    pub max_backoff_ms: u64,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// How many items in all (a restarted run goes on from where the outbox's counter stands)
    #[arg(long, value_name = "N")]
    pub items: i64,
    #[arg(long, value_name = "MS", default_value_t = 2_000)]
    pub max_backoff_ms: u64,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn client(dir: &Path) -> anyhow::Result<(LinkFile, Arc<LinkClient>)> {
    let file = LinkFile::load(dir)?;
    let identity = Arc::new(Identity::load(&dir.join(KEY_FILE))?);
    if identity.key_id() != file.key_id {
        bail!(
            "{} belongs to key {}, but the key in {} is {}: enrol again",
            super::LINK_FILE,
            file.key_id,
            KEY_FILE,
            identity.key_id()
        );
    }
    let client = LinkClient::new(&file.server, Pin::parse(&file.pin)?, identity, file.mac.clone())?;
    Ok((file, Arc::new(client)))
}

/// The link client of an enrolment in `dir`, for `run --link-dir`: `None`
/// when `dir` holds no `link.toml` (the PC was never enrolled); an error when
/// the enrolment is there but unusable (its key missing or not its own).
pub fn enrolled_client(dir: &Path) -> anyhow::Result<Option<Arc<LinkClient>>> {
    if !dir.join(super::LINK_FILE).exists() {
        return Ok(None);
    }
    let (_, client) = client(dir).with_context(|| format!("the enrolment in {}", dir.display()))?;
    Ok(Some(client))
}

pub fn enrol(args: EnrolArgs) -> anyhow::Result<()> {
    let pin = Pin::parse(&args.pin)?;
    let identity = Arc::new(Identity::load_or_create(&args.state_dir.join(KEY_FILE))?);
    let url = reqwest::Url::parse(&args.server).with_context(|| format!("server URL {:?}", args.server))?;
    let host_port = format!("{}:{}", url.host_str().unwrap_or_default(), url.port_or_known_default().unwrap_or(443));
    let server_addr = host_port
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {host_port}"))?
        .next()
        .with_context(|| format!("{host_port} has no address"))?;
    let ip = host::local_ip_towards(server_addr).unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let mac = match &args.mac {
        Some(m) => {
            normalise_mac(m).with_context(|| format!("--mac {m:?} is not a MAC address like aa:bb:cc:dd:ee:ff"))?
        }
        None => host::mac_towards(server_addr.ip())
            .context("this PC has no network interface with a MAC address: pass --mac")?,
    };
    let mut macs: Vec<String> = host::interfaces().into_iter().map(|i| i.mac).collect();
    if !macs.contains(&mac) {
        macs.insert(0, mac.clone());
    }
    macs.truncate(16);
    let client = LinkClient::new(&args.server, pin, identity.clone(), mac.clone())?;
    let request = EnrolRequest {
        public_key: identity.public_key_b64(),
        macs,
        ip: ip.to_string(),
        host_name: host::host_name(),
        agent_version: env!("CARGO_PKG_VERSION").into(),
    };
    let rt = runtime()?;
    let answer = rt.block_on(client.enrol(&request))?;
    LinkFile { server: args.server.clone(), pin: pin.to_string(), key_id: answer.key_id.clone(), mac }
        .save(&args.state_dir)?;
    // The key that signs exam papers, pinned beside the certificate (an older server gives none:
    // the agent then fetches it once over the pinned TLS when a paper comes).
    if let Some(key) = &answer.server_key {
        let key = crate::exam::manifest::ServerKey::parse(key).context("the server's paper signing key")?;
        key.save(&args.state_dir).context("pinning the server's paper signing key")?;
    }
    say(&format!(
        "enrolled: key {} ({} from {ip}), state {}",
        answer.key_id,
        request.host_name,
        state_name(answer.state)
    ));
    if let Some(seat) = &answer.seat {
        say(&format!("bound: seat {seat}"));
        return Ok(());
    }
    if !args.wait {
        say("an examiner approves this PC as a seat on the console; `examgate-agent link status` tells when");
        return Ok(());
    }
    rt.block_on(async {
        loop {
            match client.status().await {
                Ok(s) if s.state == BindingState::Bound => {
                    say(&format!("bound: seat {}", s.seat.unwrap_or_default()));
                    return Ok(());
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("status: {e}"),
            }
            // Approval happens on another machine; asking every two seconds is cheap.
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    })
}

fn state_name(s: BindingState) -> &'static str {
    match s {
        BindingState::Pending => "pending",
        BindingState::Bound => "bound",
        BindingState::Replaced => "replaced",
    }
}

fn normalise_mac(s: &str) -> Option<String> {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    (parts.len() == 6 && parts.iter().all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit())))
        .then(|| parts.join(":").to_ascii_lowercase())
}

pub fn status(args: StateDirArg) -> anyhow::Result<()> {
    let (file, client) = client(&args.state_dir)?;
    let counts = Outbox::open(&args.state_dir)?.counts()?;
    say(&format!("server {} (pin {}), key {}, MAC {}", file.server, file.pin, file.key_id, file.mac));
    say(&format!("outbox: {} pending, {} refused by the server", counts.pending, counts.rejected));
    match runtime()?.block_on(client.status()) {
        Ok(s) => {
            say(&format!("state {}{}", state_name(s.state), s.seat.map(|n| format!(", seat {n}")).unwrap_or_default()))
        }
        Err(e) => say(&format!("state unknown: {e}")),
    }
    Ok(())
}

pub fn run(args: LinkRunArgs) -> anyhow::Result<()> {
    let (_, client) = client(&args.state_dir)?;
    let token = client.identity().local_command_token();
    let outbox = Outbox::open(&args.state_dir)?;
    let pacing = Pacing {
        heartbeat: Duration::from_secs(args.heartbeat_secs.max(1)),
        max_backoff: Duration::from_millis(args.max_backoff_ms.max(100)),
        ..Pacing::default()
    };
    let link = Arc::new(Link::new(client, outbox, pacing));
    let local = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
    let agent = args.agent.map(|a| a.trim_end_matches('/').to_owned());
    runtime()?.block_on(async move {
        let deliver = {
            let link = link.clone();
            tokio::spawn(async move {
                link.deliver_forever(|d| match d {
                    Delivered::Stored { idempotency_key, duplicate } => {
                        tracing::info!(key = %idempotency_key, duplicate, "delivered")
                    }
                    Delivered::Rejected { idempotency_key, reason } => {
                        tracing::error!(key = %idempotency_key, "refused: {reason}")
                    }
                })
                .await
            })
        };
        let beats = {
            let (link, local, agent) = (link.clone(), local.clone(), agent.clone());
            tokio::spawn(async move {
                link.heartbeat_forever(None, || device_health(&local, agent.as_deref())).await;
            })
        };
        let push = {
            let link = link.clone();
            tokio::spawn(async move {
                link.push_forever(|m| on_command(&local, agent.as_deref(), &token, m)).await;
            })
        };
        // The agent (run --link-dir) queues its snapshots into this outbox from its own
        // process; looking every heartbeat delivers them without waiting out an idle hour.
        let _look = {
            let link = link.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(link.pacing.heartbeat);
                loop {
                    tick.tick().await;
                    link.queued.notify_one();
                }
            })
        };
        tokio::select! {
            r = deliver => r.context("delivery task")??,
            r = beats => r.context("heartbeat task")?,
            r = push => r.context("push task")?,
            _ = tokio::signal::ctrl_c() => {}
        }
        Ok(())
    })
}

/// Device health as the local agent reports it; nothing if it is not asked or not up.
async fn device_health(http: &reqwest::Client, agent: Option<&str>) -> Vec<DeviceHealth> {
    let Some(agent) = agent else { return Vec::new() };
    let Ok(resp) = http.get(format!("{agent}/v1/devices")).send().await else { return Vec::new() };
    let Ok(list) = resp.json::<DeviceList>().await else { return Vec::new() };
    let mut health: Vec<DeviceHealth> = list
        .devices
        .into_iter()
        .map(|d| DeviceHealth {
            id: d.id,
            class: d.classes.first().map(wire_name).unwrap_or_default(),
            state: wire_name(&d.state),
            reason: None,
        })
        .collect();
    // A selector that serves no device (a plugin that failed to load, a reader not
    // found yet) has no entry above: it is reported under its selector, with why.
    let silent = list
        .selectors
        .into_iter()
        .filter(|s| s.devices.is_empty() && matches!(s.state, SelectorState::Failed | SelectorState::Waiting));
    health.extend(silent.map(|s| DeviceHealth {
        class: selector_class(&s.selector).to_owned(),
        state: wire_name(&s.state),
        reason: s.reason,
        id: s.selector,
    }));
    health
}

/// The device class a selector's kind serves (`plugin` when only the plugin knows).
fn selector_class(selector: &str) -> &'static str {
    let kind = selector.split(['?', ':']).next().unwrap_or_default();
    match kind {
        "sim" if selector.starts_with("sim:camera") => "camera",
        "sim" | "as60x" => "fingerprint",
        "pcsc-idcard" | "sam" => "idcard",
        "webcam" => "camera",
        _ => "plugin",
    }
}

/// The name a protocol enum has on the wire (`fingerprint`, `ready`).
fn wire_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// A command from the server: printed as one JSON line and handed to the
/// local agent (`POST /v1/link/commands`, which turns it into a seat event);
/// a snapshot is also asked of the local agent.
async fn on_command(http: &reqwest::Client, agent: Option<&str>, token: &str, m: PushMessage) {
    tracing::info!(id = %m.id, "command from the server: {}", describe_command(&m.command));
    say(&printable(&m));
    let Some(agent) = agent else { return };
    let request = http.post(format!("{agent}/v1/link/commands")).header(LOCAL_COMMAND_TOKEN, token).json(&m);
    match request.send().await {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => tracing::warn!(id = %m.id, status = %r.status(), "the local agent refused the command"),
        Err(e) => tracing::warn!(id = %m.id, "the local agent did not take the command: {e}"),
    }
    if let Command::SnapshotNow = &m.command {
        let body = serde_json::json!({"reason": "examiner_request"});
        if let Err(e) = http.post(format!("{agent}/v1/camera/snapshot")).json(&body).send().await {
            tracing::warn!("the local agent took no snapshot: {e}");
        }
    }
}

/// A push message as one JSON line for stdout, the candidate's name left out
/// (stdout of `link run` usually ends in a file).
fn printable(m: &PushMessage) -> String {
    let mut m = m.clone();
    if let Command::CandidateAssigned { name, .. } = &mut m.command {
        *name = "<name>".into();
    }
    serde_json::to_string(&m).expect("a push message serialises")
}

/// The load of the delivery tests: numbered answers, each queued durably
/// (then printed as `queued N KEY`), all delivered (then `drained`).
pub fn load(args: LoadArgs) -> anyhow::Result<()> {
    let (_, client) = client(&args.state_dir)?;
    let outbox = Outbox::open(&args.state_dir)?;
    let pacing = Pacing { max_backoff: Duration::from_millis(args.max_backoff_ms.max(100)), ..Pacing::default() };
    let link = Arc::new(Link::new(client, outbox.clone(), pacing));
    runtime()?.block_on(async move {
        let deliver = {
            let link = link.clone();
            tokio::spawn(async move { link.deliver_forever(|_| {}).await })
        };
        loop {
            let o = outbox.clone();
            let queued = tokio::task::spawn_blocking(move || {
                if o.counter("load")? >= args.items {
                    return Ok(None);
                }
                o.enqueue_counted("answers", Some("load"), load_item, super::now_ms()).map(Some)
            })
            .await??;
            let Some((key, n)) = queued else { break };
            link.queued.notify_one();
            say(&format!("queued {n} {key}"));
        }
        tokio::select! {
            r = link.drained() => r?,
            r = deliver => r??,
        }
        say("drained");
        Ok(())
    })
}

fn load_item(n: i64) -> Vec<u8> {
    let d = Delivery {
        seat: None,
        exam: "load".into(),
        created_at: Timestamp::now(),
        item: DeliveryItem::Answers {
            candidate: "load".into(),
            answers: vec![Answer { question: format!("q{n}"), choice: "A".into() }],
        },
    };
    serde_json::to_vec(&d).expect("a delivery serialises")
}

/// `examgate-agent link …`.
pub fn link(command: LinkCommand) -> anyhow::Result<()> {
    match command {
        LinkCommand::Run(args) => run(args),
        LinkCommand::Status(args) => status(args),
        LinkCommand::Load(args) => load(args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_selector_without_devices_is_reported_under_the_class_its_kind_serves() {
        for (selector, class) in [
            ("sim:fingerprint?seed=3", "fingerprint"),
            ("sim:camera", "camera"),
            ("as60x:auto", "fingerprint"),
            ("pcsc-idcard", "idcard"),
            ("pcsc-idcard:Virtual PCD", "idcard"),
            ("sam:serial:/dev/ttyUSB0", "idcard"),
            ("webcam:0", "camera"),
            ("plugin:/opt/acme/libfp.so", "plugin"),
        ] {
            assert_eq!(selector_class(selector), class, "{selector}");
        }
    }
}
