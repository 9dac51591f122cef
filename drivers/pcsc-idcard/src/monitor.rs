//! Follow readers and cards coming and going with `SCardGetStatusChange`,
//! including the PnP pseudo-reader that announces new readers. Survives
//! pcscd restarts: it reconnects and reports the readers it finds again.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;
use std::time::Duration;

use pcsc::{Context, ReaderState, Scope, State};

/// A change the monitor saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PcscEvent {
    ReaderAdded(String),
    ReaderRemoved(String),
    CardInserted(String),
    CardRemoved(String),
}

/// A running monitor; stops when dropped.
pub struct PcscMonitor {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for PcscMonitor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// How often the monitor wakes to check whether it should stop.
const TICK: Duration = Duration::from_millis(250);

impl PcscMonitor {
    /// Watch readers whose name contains `filter` (all when `None`) and send
    /// each change to `events`. Current readers and cards are reported at
    /// start as added / inserted.
    pub fn spawn(filter: Option<String>, events: Sender<PcscEvent>) -> PcscMonitor {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("pcsc-monitor".into())
            .spawn(move || run(filter.as_deref(), &events, &flag))
            .expect("spawn pcsc monitor");
        PcscMonitor { stop, thread: Some(thread) }
    }
}

/// What the monitor believes about each reader: card present or not.
type Known = BTreeMap<String, bool>;

fn run(filter: Option<&str>, events: &Sender<PcscEvent>, stop: &AtomicBool) {
    let mut known = Known::new();
    while !stop.load(Ordering::SeqCst) {
        let Ok(ctx) = Context::establish(Scope::User) else {
            std::thread::sleep(TICK);
            continue;
        };
        if watch(&ctx, filter, events, stop, &mut known).is_err() {
            // Lost pcscd: every reader is gone until it comes back.
            for (reader, present) in std::mem::take(&mut known) {
                if present {
                    let _ = events.send(PcscEvent::CardRemoved(reader.clone()));
                }
                let _ = events.send(PcscEvent::ReaderRemoved(reader));
            }
            std::thread::sleep(TICK);
        }
    }
}

fn list(ctx: &Context, filter: Option<&str>) -> Result<Vec<CString>, pcsc::Error> {
    match ctx.list_readers_owned() {
        Ok(r) => Ok(r.into_iter().filter(|r| filter.is_none_or(|f| r.to_string_lossy().contains(f))).collect()),
        Err(pcsc::Error::NoReadersAvailable) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

fn watch(
    ctx: &Context,
    filter: Option<&str>,
    events: &Sender<PcscEvent>,
    stop: &AtomicBool,
    known: &mut Known,
) -> Result<(), pcsc::Error> {
    'relist: loop {
        let readers = list(ctx, filter)?;
        let names: Vec<String> = readers.iter().map(|r| r.to_string_lossy().into_owned()).collect();
        // Readers that left while we were not looking.
        let gone: Vec<String> = known.keys().filter(|k| !names.contains(k)).cloned().collect();
        for reader in gone {
            if known.remove(&reader) == Some(true) {
                let _ = events.send(PcscEvent::CardRemoved(reader.clone()));
            }
            let _ = events.send(PcscEvent::ReaderRemoved(reader));
        }
        for name in &names {
            if !known.contains_key(name) {
                known.insert(name.clone(), false);
                let _ = events.send(PcscEvent::ReaderAdded(name.clone()));
            }
        }
        let mut states: Vec<ReaderState> = readers.into_iter().map(|r| ReaderState::new(r, State::UNAWARE)).collect();
        states.push(ReaderState::new(pcsc::PNP_NOTIFICATION(), State::UNAWARE));
        loop {
            if stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            match ctx.get_status_change(TICK, &mut states) {
                Ok(()) => {}
                Err(pcsc::Error::Timeout) => continue,
                Err(e) => return Err(e),
            }
            let mut relist = false;
            for rs in &mut states {
                let state = rs.event_state();
                let name = rs.name().to_string_lossy().into_owned();
                if rs.name() == pcsc::PNP_NOTIFICATION() {
                    if state.contains(State::CHANGED) && rs.current_state() != State::UNAWARE {
                        relist = true;
                    }
                    rs.sync_current_state();
                    continue;
                }
                if state.intersects(State::UNKNOWN | State::UNAVAILABLE) {
                    relist = true;
                }
                let present = state.contains(State::PRESENT) && !state.contains(State::MUTE);
                if let Some(was) = known.get_mut(&name)
                    && *was != present
                {
                    *was = present;
                    let _ = events.send(if present {
                        PcscEvent::CardInserted(name.clone())
                    } else {
                        PcscEvent::CardRemoved(name.clone())
                    });
                }
                rs.sync_current_state();
            }
            if relist {
                continue 'relist;
            }
        }
    }
}
