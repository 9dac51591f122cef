//! The device manager: every open device lives on its own OS thread with a
//! command queue, so a stuck device stalls neither the async runtime nor
//! another device. Async handlers send a command and await a oneshot reply.
//!
//! - **Leases.** A request that needs a device takes its lease first; a
//!   second request while the lease is held gets a `busy` error at once
//!   instead of queueing behind a capture that may wait 15 s for a finger.
//! - **Events.** While idle, each thread polls `enabled()`,
//!   `finger_present()` and `card_present()` and announces changes on a
//!   broadcast channel; a camera, which cannot tell it is there without
//!   taking a picture, is looked for by discovery now and then, and its loss
//!   is a `camera_fault` too.
//! - **Cameras** take no lease: a snapshot or preview frame is quick, so it
//!   queues on the camera's thread ([`DeviceManager::on_camera`]) rather
//!   than failing `busy` while the preview streams.
//! - **Reopen.** A device that fails with `NotConnected` or `Panic` is
//!   closed and reopened until it comes back (a crashed plugin's driver host
//!   is restarted underneath it).
//! - **Injectable.** The manager is built from a list of [`Driver`]s, so
//!   tests hand in simulators; there is no global registry.

mod plugin;
mod retry;
mod sim;
mod worker;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use examgate_device_sdk::{
    CardRead, Device, DeviceClass, DeviceError, DeviceId, DeviceInfo, DriverFactory, ErrorKind, Score, SimCommand,
    Template,
};
use examgate_protocol::{
    DeviceClassName, DeviceEntry, DeviceList, DeviceState, Event, Missing, SelectorEntry, SelectorState, Timestamp,
};
use tokio::sync::{broadcast, oneshot};

use crate::error::AppError;
use crate::selector::DeviceSelector;
pub use plugin::{LoadPlugin, LoadState, PluginSource};
pub use retry::Backoff;
pub use sim::SimBackdoor;
use worker::{Command, Lease, Status, Worker};

/// Work to run on a camera's thread with the open camera (`None` when it
/// cannot be opened now). It returns the error that lost the device, if it
/// did, so the thread closes it and looks for it again.
pub type CameraJob = Box<dyn FnOnce(Option<&mut dyn Device>) -> Option<DeviceError> + Send>;

/// One device source: a selector and the driver it opened.
#[derive(Clone)]
pub struct Driver {
    pub selector: DeviceSelector,
    pub factory: Arc<dyn DriverFactory>,
    /// Out-of-band scripting for simulated devices.
    pub sim: Option<Arc<dyn SimBackdoor>>,
    /// A plugin that may not be loaded yet: whether it failed, and why.
    pub plugin: Option<Arc<PluginSource>>,
}

impl Driver {
    pub fn new(selector: DeviceSelector, factory: Arc<dyn DriverFactory>) -> Driver {
        Driver { selector, factory, sim: None, plugin: None }
    }

    /// A built-in simulator, scriptable while its device thread is busy.
    pub fn simulated<F: DriverFactory + SimBackdoor + 'static>(selector: DeviceSelector, factory: Arc<F>) -> Driver {
        Driver { selector, factory: factory.clone(), sim: Some(factory), plugin: None }
    }

    /// A plugin, loaded by discovery and retried until it loads.
    pub fn plugin(selector: DeviceSelector, plugin: Arc<PluginSource>) -> Driver {
        Driver { selector, factory: plugin.clone(), sim: None, plugin: Some(plugin) }
    }
}

/// What discovery last found of one driver.
#[derive(Debug, Default)]
struct Seen {
    /// The last discovery error (pcscd away, a plugin not loaded).
    error: Option<String>,
    /// The plugin failure last announced as `device_failed`.
    announced: Option<String>,
}

/// Timing of the manager's threads.
#[derive(Clone, Debug)]
pub struct ManagerOptions {
    /// How often an idle device is polled for fingers and unplugging.
    pub poll_interval: Duration,
    /// How often a lost device is reopened.
    pub reopen_interval: Duration,
    /// How often an idle camera is looked for by discovery (it cannot tell
    /// it is there any other way without taking a picture).
    pub presence_interval: Duration,
    /// How often each driver is asked for new devices.
    pub rediscover_interval: Duration,
    /// How long [`DeviceManager::start`] waits for the first open of each device.
    pub settle_timeout: Duration,
    /// Extra time over an operation's own timeout before the agent stops
    /// waiting for the device thread (the driver host's grace).
    pub grace: Duration,
}

impl Default for ManagerOptions {
    fn default() -> Self {
        ManagerOptions {
            poll_interval: Duration::from_millis(150),
            reopen_interval: Duration::from_millis(500),
            presence_interval: Duration::from_secs(2),
            rediscover_interval: Duration::from_secs(2),
            settle_timeout: Duration::from_secs(5),
            grace: Duration::from_secs(2),
        }
    }
}

/// How long a match may take on a device (its own timeout; the grace is added).
const MATCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Slack for the device thread's own bookkeeping beyond the driver's deadline.
const REPLY_SLACK: Duration = Duration::from_millis(500);

/// One managed device, as the async side sees it.
struct Slot {
    key: String,
    driver_index: usize,
    selector: String,
    driver: String,
    info: DeviceInfo,
    status: Arc<Status>,
    busy: Arc<AtomicBool>,
    commands: mpsc::Sender<Command>,
    sim: Option<Arc<dyn SimBackdoor>>,
}

impl Slot {
    fn state(&self) -> DeviceState {
        let seen = self.status.get();
        if !seen.open {
            DeviceState::Disconnected
        } else if !seen.enabled {
            DeviceState::Disabled
        } else if self.busy.load(Ordering::Acquire) {
            DeviceState::Busy
        } else {
            DeviceState::Ready
        }
    }

    fn lease(&self) -> Result<Lease, AppError> {
        Lease::try_take(&self.busy)
            .ok_or_else(|| AppError::Device(DeviceError::Busy(format!("{} is serving another request", self.key))))
    }

    async fn call<T>(&self, make: impl FnOnce(worker::Reply<T>) -> Command, wait: Duration) -> Result<T, AppError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(make(reply))
            .map_err(|_| AppError::Device(DeviceError::NotConnected(format!("{} is shutting down", self.key))))?;
        match tokio::time::timeout(wait, answer).await {
            Ok(Ok(result)) => result.map_err(AppError::Device),
            Ok(Err(_)) => Err(AppError::Internal(format!("the thread of device {} ended", self.key))),
            Err(_) => Err(AppError::NoAnswer { device: self.key.clone(), waited: wait }),
        }
    }

    fn entry(&self) -> DeviceEntry {
        DeviceEntry {
            selector: self.selector.clone(),
            id: self.key.clone(),
            name: self.info.name.clone(),
            driver: self.driver.clone(),
            classes: self
                .info
                .classes
                .iter()
                .map(|c| match c {
                    DeviceClass::Fingerprint => DeviceClassName::Fingerprint,
                    DeviceClass::IdCard => DeviceClassName::Idcard,
                    DeviceClass::Camera => DeviceClassName::Camera,
                })
                .collect(),
            state: self.state(),
        }
    }
}

struct Inner {
    drivers: Vec<Driver>,
    /// One per driver.
    seen: Vec<Mutex<Seen>>,
    slots: RwLock<Vec<Arc<Slot>>>,
    events: broadcast::Sender<Event>,
    options: ManagerOptions,
    stop: Arc<AtomicBool>,
    /// Cloned into every thread; all clones gone means all threads ended.
    done: Mutex<Option<mpsc::Sender<()>>>,
    done_rx: Mutex<mpsc::Receiver<()>>,
    /// Dropping these wakes the rediscovery threads to end.
    watcher_wakers: Mutex<Vec<mpsc::Sender<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

impl Inner {
    fn slots(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<Slot>>> {
        self.slots.read().unwrap_or_else(|p| p.into_inner())
    }

    fn knows(&self, driver_index: usize, id: &DeviceId) -> bool {
        self.slots().iter().any(|s| s.driver_index == driver_index && &s.info.id == id)
    }

    /// Start the thread of a newly discovered device.
    fn add(&self, driver_index: usize, info: DeviceInfo, settled: Option<mpsc::Sender<()>>) {
        let Some(done) = self.done.lock().unwrap_or_else(|p| p.into_inner()).clone() else { return };
        let driver = &self.drivers[driver_index];
        let mut slots = self.slots.write().unwrap_or_else(|p| p.into_inner());
        let taken = |key: &str| slots.iter().any(|s| s.key == key);
        // Two sources may both call their reader `sim-fp-0`; the later one
        // gets the number of its selector.
        let mut key = info.id.to_string();
        if taken(&key) {
            key = format!("{}@{}", info.id, driver_index + 1);
            let mut n = 2;
            while taken(&key) {
                key = format!("{}@{}.{n}", info.id, driver_index + 1);
                n += 1;
            }
        }
        let (tx, rx) = mpsc::channel();
        let status = Arc::new(Status::default());
        let worker = Worker {
            id: info.id.clone(),
            key: key.clone(),
            classes: info.classes,
            factory: Arc::clone(&driver.factory),
            status: Arc::clone(&status),
            events: self.events.clone(),
            commands: rx,
            poll_interval: self.options.poll_interval,
            reopen_interval: self.options.reopen_interval,
            presence_interval: self.options.presence_interval,
            stop: Arc::clone(&self.stop),
            settled,
            done,
        };
        let spawned = std::thread::Builder::new().name(format!("dev {key}")).spawn(move || worker.run());
        if let Err(e) = spawned {
            tracing::error!(device = %key, "cannot start the device thread: {e}");
            return;
        }
        tracing::info!(device = %key, selector = %driver.selector, name = %info.name, "managing device");
        slots.push(Arc::new(Slot {
            key,
            driver_index,
            selector: driver.selector.to_string(),
            driver: driver.factory.name().to_owned(),
            info,
            status,
            busy: Arc::new(AtomicBool::new(false)),
            commands: tx,
            sim: driver.sim.clone(),
        }));
    }
}

/// Ask a driver for its devices again now and then: readers plugged in after
/// start-up, or a driver whose first discovery failed.
fn rediscover(inner: Weak<Inner>, driver_index: usize, wake: mpsc::Receiver<()>, interval: Duration) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = wake.recv_timeout(interval) {
        let Some(inner) = inner.upgrade() else { return };
        if inner.stop.load(Ordering::Acquire) {
            return;
        }
        let driver = &inner.drivers[driver_index];
        let found = driver.factory.discover();
        inner.discovered(driver_index, &found);
        match found {
            Ok(found) => {
                for info in found.into_iter().filter(|i| !inner.knows(driver_index, &i.id)) {
                    inner.add(driver_index, info, None);
                }
            }
            Err(e) => tracing::debug!(selector = %driver.selector, "discovery failed: {e}"),
        }
    }
}

/// A wall-clock time for an `Instant` of this process.
fn wall_time(at: Instant) -> Timestamp {
    let now = Instant::now();
    let millis = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    let base = Timestamp::now().unix_millis();
    Timestamp::from_unix_millis(if at >= now {
        base.saturating_add(millis(at - now))
    } else {
        base.saturating_sub(millis(now - at))
    })
}

impl Inner {
    fn seen(&self, index: usize) -> std::sync::MutexGuard<'_, Seen> {
        self.seen[index].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Record what a discovery found; announce a plugin that failed to load
    /// (first, or for a new reason) as `device_failed`.
    fn discovered(&self, index: usize, result: &Result<Vec<DeviceInfo>, DeviceError>) {
        let driver = &self.drivers[index];
        let mut seen = self.seen(index);
        seen.error = result.as_ref().err().map(ToString::to_string);
        let Some(plugin) = &driver.plugin else { return };
        match plugin.state() {
            LoadState::Failed(f) if seen.announced.as_deref() != Some(f.reason.as_str()) => {
                seen.announced = Some(f.reason.clone());
                let _ = self.events.send(Event::DeviceFailed {
                    device: driver.selector.to_string(),
                    timestamp: Timestamp::now(),
                    reason: f.reason,
                    next_retry: Some(wall_time(f.next_at)),
                });
            }
            LoadState::Failed(_) => {}
            LoadState::Loaded | LoadState::Pending => seen.announced = None,
        }
    }

    /// One configured selector and its state.
    fn selector(&self, index: usize, slots: &[Arc<Slot>]) -> SelectorEntry {
        let driver = &self.drivers[index];
        let mine: Vec<&Arc<Slot>> = slots.iter().filter(|s| s.driver_index == index).collect();
        let states: Vec<DeviceState> = mine.iter().map(|s| s.state()).collect();
        let mut entry = SelectorEntry {
            selector: driver.selector.to_string(),
            state: SelectorState::Waiting,
            reason: None,
            next_retry: None,
            failures: 0,
            devices: mine.iter().map(|s| s.key.clone()).collect(),
        };
        if let Some(LoadState::Failed(f)) = driver.plugin.as_ref().map(|p| p.state()) {
            entry.state = SelectorState::Failed;
            entry.reason = Some(f.reason);
            entry.next_retry = Some(wall_time(f.next_at));
            entry.failures = f.failures;
        } else if states.contains(&DeviceState::Ready) {
            entry.state = SelectorState::Ready;
        } else if states.contains(&DeviceState::Busy) {
            entry.state = SelectorState::Busy;
        } else if mine.is_empty() {
            entry.reason = Some(match &self.seen(index).error {
                Some(e) => format!("no device yet: {e}"),
                None => "no device found yet".to_owned(),
            });
        } else {
            let down: Vec<String> = mine.iter().map(|s| format!("{} is {}", s.key, state_word(s.state()))).collect();
            entry.reason = Some(down.join("; "));
        }
        entry
    }
}

fn state_word(state: DeviceState) -> &'static str {
    match state {
        DeviceState::Ready => "ready",
        DeviceState::Busy => "busy",
        DeviceState::Disabled => "disabled",
        DeviceState::Disconnected => "disconnected",
    }
}

/// The devices of this agent. Cheap to clone; all clones share the devices.
#[derive(Clone)]
pub struct DeviceManager {
    inner: Arc<Inner>,
}

impl DeviceManager {
    /// Discover every driver's devices, start a thread for each, and wait
    /// (up to `settle_timeout`) until each has tried to open its device.
    /// Blocking: call it before the async runtime, or from `spawn_blocking`.
    pub fn start(drivers: Vec<Driver>, options: ManagerOptions) -> DeviceManager {
        let (done, done_rx) = mpsc::channel();
        let (events, _) = broadcast::channel(256);
        let seen = drivers.iter().map(|_| Mutex::new(Seen::default())).collect();
        let inner = Arc::new(Inner {
            drivers,
            seen,
            slots: RwLock::new(Vec::new()),
            events,
            options: options.clone(),
            stop: Arc::new(AtomicBool::new(false)),
            done: Mutex::new(Some(done)),
            done_rx: Mutex::new(done_rx),
            watcher_wakers: Mutex::new(Vec::new()),
        });
        let (settled_tx, settled_rx) = mpsc::channel();
        let mut expected = 0;
        for (index, driver) in inner.drivers.iter().enumerate() {
            let found = driver.factory.discover();
            inner.discovered(index, &found);
            match found {
                Ok(found) => {
                    if found.is_empty() {
                        tracing::warn!(selector = %driver.selector, "the driver found no device; looking again every {:?}", options.rediscover_interval);
                    }
                    for info in found {
                        inner.add(index, info, Some(settled_tx.clone()));
                        expected += 1;
                    }
                }
                // A plugin that did not load has said so, and when it tries again.
                Err(_) if driver.plugin.is_some() => {}
                Err(e) => {
                    tracing::warn!(selector = %driver.selector, "discovery failed: {e}; trying again every {:?}", options.rediscover_interval)
                }
            }
        }
        drop(settled_tx);
        let deadline = Instant::now() + options.settle_timeout;
        for _ in 0..expected {
            if settled_rx.recv_timeout(deadline.saturating_duration_since(Instant::now())).is_err() {
                tracing::warn!("a device is slow to open; serving without waiting for it");
                break;
            }
        }
        for index in 0..inner.drivers.len() {
            let (waker, wake) = mpsc::channel();
            inner.watcher_wakers.lock().unwrap_or_else(|p| p.into_inner()).push(waker);
            let weak = Arc::downgrade(&inner);
            let done = inner.done.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let interval = options.rediscover_interval;
            let _ = std::thread::Builder::new().name(format!("discover {index}")).spawn(move || {
                rediscover(weak, index, wake, interval);
                drop(done);
            });
        }
        DeviceManager { inner }
    }

    /// Stop every device thread, closing the devices, and wait up to
    /// `deadline` for them to finish (a device stuck in a driver call is left
    /// behind).
    pub fn shutdown(&self, deadline: Duration) {
        self.inner.stop.store(true, Ordering::Release);
        self.inner.watcher_wakers.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.inner.slots.write().unwrap_or_else(|p| p.into_inner()).clear();
        self.inner.done.lock().unwrap_or_else(|p| p.into_inner()).take();
        let done_rx = self.inner.done_rx.lock().unwrap_or_else(|p| p.into_inner());
        let end = Instant::now() + deadline;
        loop {
            match done_rx.recv_timeout(end.saturating_duration_since(Instant::now())) {
                Ok(()) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    tracing::warn!("a device thread did not stop in time; leaving it");
                    return;
                }
            }
        }
    }

    /// Events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// Every managed device and its state.
    pub fn list(&self) -> Vec<DeviceEntry> {
        self.inner.slots().iter().map(|s| s.entry()).collect()
    }

    /// Every configured selector and its state, attached or not.
    pub fn selectors(&self) -> Vec<SelectorEntry> {
        let slots: Vec<Arc<Slot>> = self.inner.slots().clone();
        (0..self.inner.drivers.len()).map(|i| self.inner.selector(i, &slots)).collect()
    }

    /// `GET /v1/devices`: the devices and every configured selector.
    pub fn device_list(&self) -> DeviceList {
        DeviceList { devices: self.list(), selectors: self.selectors() }
    }

    /// What keeps the seat from `ok` in `GET /v1/health`: selectors that
    /// serve no device, and devices that are not attached.
    pub fn missing(&self) -> Vec<Missing> {
        let list = self.device_list();
        let mut missing = Vec::new();
        for selector in &list.selectors {
            if matches!(selector.state, SelectorState::Failed | SelectorState::Waiting) {
                missing.push(Missing {
                    selector: selector.selector.clone(),
                    device: None,
                    state: selector.state,
                    reason: selector.reason.clone().unwrap_or_default(),
                });
                continue;
            }
            let down = list.devices.iter().filter(|d| {
                selector.devices.contains(&d.id) && !matches!(d.state, DeviceState::Ready | DeviceState::Busy)
            });
            for d in down {
                missing.push(Missing {
                    selector: selector.selector.clone(),
                    device: Some(d.id.clone()),
                    state: SelectorState::Waiting,
                    reason: format!("{} is {}", d.id, state_word(d.state)),
                });
            }
        }
        missing
    }

    fn pick(&self, key: Option<&str>, class: DeviceClass, class_name: &'static str) -> Result<Arc<Slot>, AppError> {
        let slots = self.inner.slots();
        match key {
            Some(key) => {
                let slot =
                    slots.iter().find(|s| s.key == key).ok_or_else(|| AppError::UnknownDevice(key.to_owned()))?;
                if !slot.info.classes.contains(class) {
                    return Err(AppError::WrongClass { device: key.to_owned(), class: class_name });
                }
                Ok(Arc::clone(slot))
            }
            // The first device of the class that can serve now; failing
            // that, the first one, whose error then says why.
            None => slots
                .iter()
                .filter(|s| s.info.classes.contains(class))
                .min_by_key(|s| match s.state() {
                    DeviceState::Ready => 0,
                    DeviceState::Busy => 1,
                    DeviceState::Disabled => 2,
                    DeviceState::Disconnected => 3,
                })
                .cloned()
                .ok_or(AppError::NoDevice(class_name)),
        }
    }

    /// Whether a fingerprint reader exists (for choosing a matcher).
    pub fn has_fingerprint_reader(&self) -> bool {
        self.inner.slots().iter().any(|s| s.info.classes.contains(DeviceClass::Fingerprint))
    }

    /// Capture a template, waiting up to `timeout` for a finger. Returns the
    /// id of the device that captured it.
    pub async fn capture(&self, device: Option<&str>, timeout: Duration) -> Result<(String, Template), AppError> {
        let slot = self.pick(device, DeviceClass::Fingerprint, "fingerprint reader")?;
        let lease = slot.lease()?;
        let wait = timeout + self.inner.options.grace + REPLY_SLACK;
        let template = slot.call(|reply| Command::Capture { timeout, lease, reply }, wait).await?;
        Ok((slot.key.clone(), template))
    }

    /// Compare two templates with a reader's own matcher.
    pub async fn match_on(&self, device: Option<&str>, probe: Template, enrolled: Template) -> Result<Score, AppError> {
        let slot = self.pick(device, DeviceClass::Fingerprint, "fingerprint reader")?;
        let lease = slot.lease()?;
        let (probe, enrolled) = (Box::new(probe), Box::new(enrolled));
        let wait = MATCH_TIMEOUT + self.inner.options.grace + REPLY_SLACK;
        slot.call(|reply| Command::Match { probe, enrolled, lease, reply }, wait).await
    }

    /// Whether a fingerprint reader (the given one, or any) may be used now.
    pub fn fingerprint_enabled(&self, device: Option<&str>) -> Result<bool, AppError> {
        let slot = self.pick(device, DeviceClass::Fingerprint, "fingerprint reader")?;
        Ok(slot.status.get().attached())
    }

    /// Wait up to `timeout` for a card on an ID card reader and read it.
    /// Returns the reader's id and the selector it came from (which says
    /// what kind of reader it is).
    pub async fn read_card(
        &self,
        device: Option<&str>,
        timeout: Duration,
    ) -> Result<(String, DeviceSelector, CardRead), AppError> {
        let slot = self.pick(device, DeviceClass::IdCard, "ID card reader")?;
        let lease = slot.lease()?;
        let wait = timeout + self.inner.options.grace + REPLY_SLACK;
        let read = slot.call(|reply| Command::ReadCard { timeout, lease, reply }, wait).await?;
        let selector = self.inner.drivers[slot.driver_index].selector.clone();
        Ok((slot.key.clone(), selector, read))
    }

    /// Whether any camera is configured.
    pub fn has_camera(&self) -> bool {
        self.inner.slots().iter().any(|s| s.info.classes.contains(DeviceClass::Camera))
    }

    /// Run `job` on a camera's thread with the open camera: the named one,
    /// else the first that can serve. Queues behind other camera work
    /// instead of failing `busy`. With no camera configured at all (and
    /// none named) the job runs on a blocking thread with `None`, so a
    /// snapshot still records that the seat has no camera. Returns the
    /// camera's id (`None` then) and what the job made.
    pub async fn on_camera<T: Send + 'static>(
        &self,
        device: Option<&str>,
        wait: Duration,
        job: impl FnOnce(Option<&mut dyn Device>) -> (T, Option<DeviceError>) + Send + 'static,
    ) -> Result<(Option<String>, T), AppError> {
        let (tx, rx) = oneshot::channel();
        let job: CameraJob = Box::new(move |camera| {
            let (value, lost) = job(camera);
            let _ = tx.send(value);
            lost
        });
        let slot = match self.pick(device, DeviceClass::Camera, "camera") {
            Ok(slot) => slot,
            Err(AppError::NoDevice(_)) if device.is_none() => {
                tokio::task::spawn_blocking(move || job(None))
                    .await
                    .map_err(|e| AppError::Internal(format!("a camera job failed: {e}")))?;
                let value = rx.await.map_err(|_| AppError::Internal("a camera job gave no answer".into()))?;
                return Ok((None, value));
            }
            Err(e) => return Err(e),
        };
        slot.commands
            .send(Command::Camera(job))
            .map_err(|_| AppError::Device(DeviceError::NotConnected(format!("{} is shutting down", slot.key))))?;
        match tokio::time::timeout(wait + self.inner.options.grace + REPLY_SLACK, rx).await {
            Ok(Ok(value)) => Ok((Some(slot.key.clone()), value)),
            Ok(Err(_)) => Err(AppError::Internal(format!("the thread of device {} dropped a camera job", slot.key))),
            Err(_) => Err(AppError::NoAnswer { device: slot.key.clone(), waited: wait }),
        }
    }

    /// Announce an event that did not come from a device thread (a snapshot
    /// taken, a fault it showed).
    pub fn emit(&self, event: Event) {
        // No subscriber is fine: nobody is watching.
        let _ = self.inner.events.send(event);
    }

    /// Script a simulated device: directly when it is a built-in simulator
    /// (so a finger can be placed while a capture waits), else through its
    /// thread and the plugin's simulation hooks.
    pub async fn sim_command(&self, device: &str, text: &str) -> Result<(), AppError> {
        let slot = {
            let slots = self.inner.slots();
            slots.iter().find(|s| s.key == device).cloned().ok_or_else(|| AppError::UnknownDevice(device.to_owned()))?
        };
        tracing::info!(device, command = text, "sim command");
        if let Some(sim) = &slot.sim {
            sim.apply(&slot.info.id, text)?;
            // Let the thread see the change now rather than at its next poll.
            let _ = slot.commands.send(Command::Poll);
            return Ok(());
        }
        let command: SimCommand = text.parse().map_err(|e| AppError::BadRequest(format!("{e}")))?;
        let lease = slot.lease()?;
        let wait = MATCH_TIMEOUT + self.inner.options.grace + REPLY_SLACK;
        match slot.call(|reply| Command::Sim { command, lease, reply }, wait).await {
            Err(AppError::Device(e)) if e.kind() == ErrorKind::Unsupported => {
                Err(AppError::NotSimulated(device.to_owned()))
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests;
