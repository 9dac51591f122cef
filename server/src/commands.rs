//! What each subcommand of `examgate-server` does.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::api::{AppState, PeerAddr, app};
use crate::cli::{BindArgs, Global, ServeArgs, UserAddArgs};
use crate::config::{Config, DEFAULT_DATA_DIR};
use crate::roster::{self, DirFiles, ImportError, RosterFormat, RosterSource};
use crate::seal::Sealer;
use crate::store::{self, NewUser, Store};
use crate::{audit, backup, now_ms, passwords, snapshots::SnapshotFiles, tls};

/// The config file's settings with the command line's on top.
pub fn config(global: &Global) -> anyhow::Result<Config> {
    let mut config = match &global.config {
        Some(path) => Config::load(path)?,
        None => Config::with_data_dir(std::path::Path::new(DEFAULT_DATA_DIR)),
    };
    if let Some(dir) = &global.data_dir {
        let database_was_default = config.database == Config::with_data_dir(&config.data_dir).database;
        let tls_was_default = config.tls == Config::with_data_dir(&config.data_dir).tls;
        let roster_key_was_default = config.roster.key_file == Config::with_data_dir(&config.data_dir).roster.key_file;
        let fresh = Config::with_data_dir(dir);
        config.data_dir = dir.clone();
        if database_was_default {
            config.database = fresh.database;
        }
        if tls_was_default {
            config.tls = fresh.tls;
        }
        if roster_key_was_default {
            config.roster.key_file = fresh.roster.key_file;
        }
    }
    if let Some(db) = &global.database {
        config.database = db.clone();
    }
    Ok(config)
}

async fn open(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    store::open(&config.database)
        .await
        .with_context(|| format!("cannot open the database {}", redact(&config.database)))
}

/// A database URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}

pub async fn serve(global: &Global, args: ServeArgs) -> anyhow::Result<()> {
    let mut config = config(global)?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if args.no_tls {
        config.tls.enabled = false;
    }
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
    let store = open(&config).await?;
    let mut state = AppState::new(store.clone(), config.clone());
    if let Some(day) = &args.today {
        let day = day.parse::<roster::ExamDate>().map_err(anyhow::Error::msg).context("--today")?;
        state.clock = roster::Clock::noon_of(&config, day);
        tracing::info!(%day, "the exam centre's day is fixed by --today (tests only)");
    }
    state.sealer.check().context("cannot use the roster key")?;
    state.server_key.check().context("cannot use the server's signing key")?;
    spawn_housekeeping(&state);
    crate::exam::deadline::spawn(&state);
    let tcp = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let local = tcp.local_addr()?;
    let router = app(state.clone()).into_make_service_with_connect_info::<PeerAddr>();
    let mut out = std::io::stdout().lock();
    if config.tls.enabled {
        let identity = tls::load_or_create(&config.tls)?;
        if identity.created {
            writeln!(
                out,
                "examgate-server: made a certificate for {} in {}",
                config.tls.names.join(", "),
                config.tls.cert.display()
            )?;
        }
        writeln!(out, "examgate-server: listening on https://{local}/ ({} database)", store.kind())?;
        writeln!(out, "examgate-server: console https://{local}/console/")?;
        writeln!(out, "examgate-server: certificate pin: {} (agents enrol with --pin {})", identity.pin, identity.pin)?;
        out.flush()?;
        drop(out);
        let listener = tls::TlsListener::new(tcp, identity.config)?;
        axum::serve(listener, router).with_graceful_shutdown(shutdown()).await?;
        flush_heartbeats(&state).await;
    } else {
        writeln!(out, "examgate-server: listening on http://{local}/ ({} database, NO TLS)", store.kind())?;
        out.flush()?;
        drop(out);
        axum::serve(tcp, router).with_graceful_shutdown(shutdown()).await?;
        flush_heartbeats(&state).await;
    }
    Ok(())
}

/// Pruning old nonces and noticing seats that went silent.
fn spawn_housekeeping(state: &AppState) {
    spawn_roster_purge(state);
    let s = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            let before = now_ms() - 2 * s.config.agents.signature_window_ms;
            if let Err(e) = s.store.prune_nonces(before).await {
                tracing::warn!(error = %e, "cannot prune nonces");
            }
        }
    });
    let s = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            s.hub.sweep(now_ms(), s.config.agents.offline_after_ms);
            flush_heartbeats(&s).await;
        }
    });
}

/// Purges the roster's personal data when due: once at start, then every `[roster] purge_check_secs`.
fn spawn_roster_purge(state: &AppState) {
    let s = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(s.config.roster.purge_check_ms));
        loop {
            tick.tick().await;
            match s.store.purge_roster(s.clock.now_ms()).await {
                Ok(p) if p.candidates > 0 || p.verifications > 0 => {
                    tracing::info!(candidates = p.candidates, verifications = p.verifications, "roster purged");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot purge the roster"),
            }
        }
    });
}

/// Writes the heartbeats received since the last flush, in one transaction.
async fn flush_heartbeats(state: &AppState) {
    let beats = state.hub.take_unwritten();
    if let Err(e) = state.store.heartbeats(beats).await {
        tracing::warn!(error = %e, "cannot write heartbeats");
    }
}

async fn shutdown() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(t) => t,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
}

pub async fn backup(global: &Global, file: &std::path::Path) -> anyhow::Result<()> {
    let config = config(global)?;
    let store = open(&config).await?;
    let s = backup::backup(store.as_ref(), &SnapshotFiles::new(config.snapshot_dir()), file).await?;
    println!(
        "examgate-server: backed up {} rows in {} tables and {} snapshot files to {}",
        s.rows,
        s.tables,
        s.files,
        file.display()
    );
    println!(
        "examgate-server: the roster key {} is not in the backup: keep a copy of it apart, or the sealed photos and templates cannot be read after a restore",
        config.roster.key_file.display()
    );
    println!(
        "examgate-server: the signing key {} is not in the backup either: copy it to a restored centre, or its seats refuse the new papers until they enrol again",
        config.server_key_file().display()
    );
    Ok(())
}

pub async fn restore(global: &Global, file: &std::path::Path) -> anyhow::Result<()> {
    let config = config(global)?;
    let store = open(&config).await?;
    let s = backup::restore(store.as_ref(), &SnapshotFiles::new(config.snapshot_dir()), file).await?;
    println!(
        "examgate-server: restored {} rows in {} tables and {} snapshot files into the {} database",
        s.rows,
        s.tables,
        s.files,
        store.kind()
    );
    verify_chain(store.as_ref()).await
}

pub async fn audit_verify(global: &Global) -> anyhow::Result<()> {
    let config = config(global)?;
    let store = open(&config).await?;
    verify_chain(store.as_ref()).await
}

async fn verify_chain(store: &dyn Store) -> anyhow::Result<()> {
    let (rows, head) = store.audit_chain().await?;
    let findings = audit::verify(&rows, &head);
    if findings.is_empty() {
        println!("audit chain intact: {} rows, head {}", rows.len(), head.hash);
        return Ok(());
    }
    for f in &findings {
        println!("{f}");
    }
    bail!("the audit chain is broken in {} place(s)", findings.len())
}

fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        eprint!("password (shown as typed): ");
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    passwords::check_strength(&password).map_err(anyhow::Error::msg)?;
    Ok(password)
}

pub async fn user_add(global: &Global, args: UserAddArgs) -> anyhow::Result<()> {
    let config = config(global)?;
    let store = open(&config).await?;
    let password = read_password()?;
    let password_hash =
        tokio::task::spawn_blocking(move || passwords::hash(&password, passwords::Cost::Standard)).await?;
    store
        .create_user(NewUser { username: args.username.clone(), role: args.role, password_hash }, "cli", now_ms())
        .await?;
    println!("examgate-server: {} account {:?} created", args.role.as_str(), args.username);
    Ok(())
}

pub async fn user_passwd(global: &Global, username: &str) -> anyhow::Result<()> {
    let config = config(global)?;
    let store = open(&config).await?;
    let password = read_password()?;
    let hash = tokio::task::spawn_blocking(move || passwords::hash(&password, passwords::Cost::Standard)).await?;
    store.set_password(username, &hash, "cli", now_ms()).await?;
    println!("examgate-server: password of {username:?} changed");
    Ok(())
}

pub async fn user_list(global: &Global) -> anyhow::Result<()> {
    let config = config(global)?;
    let store = open(&config).await?;
    for u in store.users().await? {
        println!("{}\t{}", u.username, u.role.as_str());
    }
    Ok(())
}

pub async fn seat_list(global: &Global) -> anyhow::Result<()> {
    let config = config(global)?;
    let store = open(&config).await?;
    let o = store.overview().await?;
    for s in &o.seats {
        let m = &s.machine;
        println!(
            "seat {}\t{}\t{}\t{}\t{}",
            s.seat,
            m.key_id,
            m.host_name,
            m.seat.as_ref().map_or("", |b| &b.ip),
            m.macs.join(" ")
        );
    }
    for m in &o.unbound {
        println!("{}\t{}\t{}\t{}\t{}", store::state_str(m.state), m.key_id, m.host_name, m.source_ip, m.macs.join(" "));
    }
    Ok(())
}

pub async fn seat_bind(global: &Global, args: BindArgs, action: Bind) -> anyhow::Result<()> {
    let config = config(global)?;
    let store = open(&config).await?;
    let seat: store::SeatNo = args.seat.parse()?;
    let ip = args.ip.map(|ip| ip.parse::<std::net::IpAddr>().map(|a| a.to_string())).transpose()?;
    let m = match action {
        Bind::Approve => {
            let role = args.role.unwrap_or_default();
            store.approve(store::Approval { key_id: args.key, seat, ip, actor: "cli".into(), role }, now_ms()).await?
        }
        Bind::Rebind if args.role.is_some() => {
            bail!("--role is for approve: a PC that takes a seat over takes the seat's role with it")
        }
        Bind::Rebind => {
            store.rebind(store::Rebind { seat, key_id: args.key, ip, actor: "cli".into() }, now_ms()).await?.machine
        }
    };
    let b = m.seat.as_ref().context("the PC holds no seat after binding")?;
    println!("seat {} bound to {} ({}, {}) as {}", b.seat, m.key_id, m.host_name, b.ip, m.role.as_str());
    Ok(())
}

pub async fn roster_import(global: &Global, file: &std::path::Path) -> anyhow::Result<()> {
    let config = config(global)?;
    let format = RosterFormat::from_path(file)
        .with_context(|| format!("{}: a roster file ends in .csv or .json", file.display()))?;
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let dir = file.parent().map(std::path::Path::to_path_buf).unwrap_or_default();
    let name = file.file_name().map_or_else(|| file.display().to_string(), |n| n.to_string_lossy().into_owned());
    let store = open(&config).await?;
    let sealer = Arc::new(Sealer::with_key_file(config.roster.key_file.clone()));
    let source = RosterSource { format, name, bytes, files: Box::new(DirFiles(dir)) };
    match roster::import(store.as_ref(), &sealer, &config, source, "cli", now_ms()).await {
        Ok(s) => {
            println!("imported {} bookings ({} replaced)", s.rows, s.replaced);
            Ok(())
        }
        Err(ImportError::Invalid(rows)) => {
            for r in &rows {
                println!("{r}");
            }
            bail!("{}: nothing was imported", roster::errors_summary(&rows))
        }
        Err(e) => Err(e).context("the roster was not imported"),
    }
}

pub async fn roster_list(global: &Global, date: Option<&str>) -> anyhow::Result<()> {
    let config = config(global)?;
    let date = match date {
        Some(d) => d.parse::<roster::ExamDate>().map_err(anyhow::Error::msg)?.to_string(),
        None => roster::today(&config, now_ms()),
    };
    let store = open(&config).await?;
    let rows = store.candidates(Some(&date)).await?;
    println!("{} bookings on {date}", rows.len());
    for c in rows {
        let photo = if c.has_photo { "photo" } else { "purged" };
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{} templates\t{photo}",
            c.booking_number,
            c.session,
            c.name,
            c.language,
            store::candidate_state_str(c.state),
            c.seat_no.as_deref().unwrap_or("-"),
            c.failures,
            c.template_count,
        );
    }
    Ok(())
}

pub async fn roster_purge(global: &Global) -> anyhow::Result<()> {
    let config = config(global)?;
    let store = open(&config).await?;
    let p = store.purge_roster(now_ms()).await?;
    println!(
        "purged the photos and templates of {} candidates and {} verification bodies",
        p.candidates, p.verifications
    );
    Ok(())
}

/// Which binding `seat_bind` makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bind {
    Approve,
    Rebind,
}

pub fn pin(global: &Global) -> anyhow::Result<()> {
    let config = config(global)?;
    let identity = tls::load_or_create(&config.tls)?;
    println!("{}", identity.pin);
    Ok(())
}

/// The error and its causes on one line, for a person.
pub fn describe(e: &anyhow::Error) -> String {
    e.chain().map(ToString::to_string).collect::<Vec<_>>().join(": ")
}
