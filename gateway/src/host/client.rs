//! The agent side of a driver host: spawn it, talk to it, notice when it
//! crashes or hangs, kill and restart it, and reopen its devices.

use std::io::{self, BufReader, BufWriter};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use examgate_device_sdk::loader::PluginMeta;
use examgate_device_sdk::{
    Camera, Device, DeviceClasses, DeviceError, DeviceId, DeviceInfo, DriverFactory, ErrorKind, FingerprintReader,
    Score, SimCommand, SimControl, Template,
};
use examgate_device_sdk::{Frame, PixelFormat};

use super::child::{from_wire, to_wire};
use super::wire::{self, Request, Response};

/// How a driver host is run.
#[derive(Clone, Debug)]
pub struct HostOptions {
    /// Time allowed over an operation's own timeout (a capture's) before
    /// the host is declared hung, killed and restarted.
    pub grace: Duration,
    /// The executable to run in `driver-host` mode; the running agent by default.
    pub agent_exe: Option<PathBuf>,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions { grace: Duration::from_secs(2), agent_exe: None }
    }
}

/// Why a driver host could not be started. One line, naming the plugin.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The plugin was refused (wrong ABI, not a plugin, ...): the host's own words.
    #[error("{0}")]
    Refused(String),
    #[error("plugin {file}: cannot start the driver host: {source}")]
    Spawn { file: String, source: io::Error },
    #[error("plugin {file}: the driver host died while loading it ({status})")]
    DiedAtLoad { file: String, status: String },
    #[error("plugin {file}: loading it did not finish within {} s; its driver host was killed", waited.as_secs())]
    HungAtLoad { file: String, waited: Duration },
}

struct Conn {
    child: Child,
    reader: BufReader<UnixStream>,
    writer: BufWriter<UnixStream>,
    /// The socket's current read timeout: set only when it changes, since
    /// each setsockopt is a system call on the hot path.
    read_timeout: Option<Duration>,
}

impl Conn {
    fn set_deadline(&mut self, deadline: Duration) -> io::Result<()> {
        let wanted = Some(deadline.max(Duration::from_millis(1)));
        if self.read_timeout != wanted {
            self.reader.get_ref().set_read_timeout(wanted)?;
            self.read_timeout = wanted;
        }
        Ok(())
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // Closing the socket ends a healthy host; a stuck one is killed.
        let _ = self.writer.get_ref().shutdown(std::net::Shutdown::Both);
        let deadline = Instant::now() + Duration::from_millis(200);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Client {
    plugin: PathBuf,
    file: String,
    options: HostOptions,
    conn: Mutex<Option<Conn>>,
    /// Bumped on every (re)start; device handles of an older generation are stale.
    generation: AtomicU64,
    restarts: AtomicU64,
}

/// Describe how a child ended, for a person.
fn describe(status: ExitStatus) -> String {
    if let Some(sig) = status.signal() {
        let name = match sig {
            4 => " (SIGILL)",
            6 => " (SIGABRT)",
            7 => " (SIGBUS)",
            8 => " (SIGFPE)",
            9 => " (SIGKILL)",
            11 => " (SIGSEGV)",
            15 => " (SIGTERM)",
            _ => "",
        };
        format!("killed by signal {sig}{name}")
    } else {
        match status.code() {
            Some(code) => format!("exited with status {code}"),
            None => "ended".to_owned(),
        }
    }
}

impl Client {
    fn lock(&self) -> MutexGuard<'_, Option<Conn>> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn spawn(&self) -> Result<(Conn, WireMetaOwned), HostError> {
        let exe = match &self.options.agent_exe {
            Some(p) => p.clone(),
            None => std::env::current_exe().map_err(|source| HostError::Spawn { file: self.file.clone(), source })?,
        };
        let (ours, theirs) =
            UnixStream::pair().map_err(|source| HostError::Spawn { file: self.file.clone(), source })?;
        let mut child = Command::new(exe)
            .arg("driver-host")
            .arg("--plugin")
            .arg(&self.plugin)
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            // A plugin printing to stdout must not reach whoever reads the agent's.
            .stdout(Stdio::from(io::stderr()))
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|source| HostError::Spawn { file: self.file.clone(), source })?;
        let spawn_err = |source| HostError::Spawn { file: self.file.clone(), source };
        let mut reader = BufReader::new(ours.try_clone().map_err(spawn_err)?);
        let writer = BufWriter::new(ours);
        // Loading runs the plugin's initialisers: they may hang too.
        let load_timeout = self.options.grace.max(Duration::from_secs(5));
        reader.get_ref().set_read_timeout(Some(load_timeout)).map_err(spawn_err)?;
        match wire::read_frame::<Response>(&mut reader) {
            Ok(Response::Ready(meta)) => Ok((Conn { child, reader, writer, read_timeout: None }, WireMetaOwned(meta))),
            Ok(Response::LoadFailed(why)) => {
                let _ = child.wait();
                Err(HostError::Refused(why))
            }
            Ok(other) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(HostError::Refused(format!("plugin {}: driver host sent {other:?} before ready", self.file)))
            }
            Err(e) => {
                let hung = matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut);
                let _ = child.kill();
                let status = child.wait().map(describe).unwrap_or_else(|e| e.to_string());
                Err(if hung {
                    HostError::HungAtLoad { file: self.file.clone(), waited: load_timeout }
                } else {
                    HostError::DiedAtLoad { file: self.file.clone(), status }
                })
            }
        }
    }

    /// Send one request and wait up to `deadline` for the answer. A host
    /// that crashes or overstays is killed and restarted before returning
    /// the error, so the next call finds it back.
    fn call(&self, request: &Request, deadline: Duration, what: &str) -> Result<Response, DeviceError> {
        let mut guard = self.lock();
        if guard.is_none() {
            self.restart(&mut guard)?;
        }
        let conn = guard.as_mut().expect("started above");
        let outcome = conn
            .set_deadline(deadline)
            .and_then(|()| wire::write_frame(&mut conn.writer, request))
            .and_then(|()| wire::read_frame::<Response>(&mut conn.reader));
        match outcome {
            Ok(Response::Error { kind, detail }) => Err(match ErrorKind::from_code(kind) {
                Some(k) => DeviceError::from_kind(k, detail),
                None => DeviceError::Driver(detail),
            }),
            Ok(response) => Ok(response),
            Err(e) => {
                let hung = matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut);
                let mut conn = guard.take().expect("present");
                // Killing an already dead (zombie) host keeps its own exit status.
                let _ = conn.child.kill();
                let status = conn.child.wait().map(describe).unwrap_or_else(|e| e.to_string());
                drop(conn);
                let restarted = match self.restart(&mut guard) {
                    Ok(()) => "restarted".to_owned(),
                    Err(e) => format!("restart failed: {e}"),
                };
                let file = &self.file;
                Err(if hung {
                    tracing::warn!(plugin = %file, operation = what, "driver host hung; killed and {restarted}");
                    DeviceError::Timeout(format!(
                        "plugin {file} did not answer {what} within {} ms; its driver host was killed and {restarted}",
                        deadline.as_millis()
                    ))
                } else {
                    tracing::warn!(plugin = %file, operation = what, %status, "driver host crashed; {restarted}");
                    DeviceError::Panic(format!(
                        "plugin {file} crashed during {what} ({status}); driver host {restarted}"
                    ))
                })
            }
        }
    }

    fn restart(&self, guard: &mut MutexGuard<'_, Option<Conn>>) -> Result<(), DeviceError> {
        let (conn, _meta) = self.spawn().map_err(|e| DeviceError::Driver(e.to_string()))?;
        **guard = Some(conn);
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.restarts.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

struct WireMetaOwned(super::wire::WireMeta);

/// A plugin running in a driver-host child process, used as a [`DriverFactory`].
pub struct HostedPlugin {
    client: Arc<Client>,
    meta: PluginMeta,
}

impl HostedPlugin {
    /// Start a driver host for `plugin` and wait until it has loaded it.
    pub fn spawn(plugin: &Path, options: HostOptions) -> Result<HostedPlugin, HostError> {
        let file = plugin
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| plugin.display().to_string());
        // The child resolves the path itself: give it an absolute one.
        let plugin = std::path::absolute(plugin).unwrap_or_else(|_| plugin.to_owned());
        let client = Client {
            plugin,
            file,
            options,
            conn: Mutex::new(None),
            generation: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
        };
        let (conn, WireMetaOwned(m)) = client.spawn()?;
        *client.lock() = Some(conn);
        client.generation.store(1, Ordering::SeqCst);
        let meta = PluginMeta {
            name: m.name,
            vendor: m.vendor,
            version: m.version,
            abi_version: m.abi_version,
            classes: DeviceClasses::from_bits(m.classes),
        };
        Ok(HostedPlugin { client: Arc::new(client), meta })
    }

    pub fn meta(&self) -> &PluginMeta {
        &self.meta
    }

    /// How many times the host was restarted after a crash or hang.
    pub fn restarts(&self) -> u64 {
        self.client.restarts.load(Ordering::SeqCst)
    }

    /// The driver host's process id, while one runs.
    pub fn host_pid(&self) -> Option<u32> {
        self.client.lock().as_ref().map(|c| c.child.id())
    }
}

fn unexpected(what: &str, r: Response) -> DeviceError {
    DeviceError::Protocol(format!("driver host answered {what} with {r:?}"))
}

impl DriverFactory for HostedPlugin {
    fn name(&self) -> &str {
        &self.meta.name
    }

    fn classes(&self) -> DeviceClasses {
        self.meta.classes
    }

    fn discover(&self) -> Result<Vec<DeviceInfo>, DeviceError> {
        match self.client.call(&Request::Discover, self.client.options.grace, "discover")? {
            Response::Devices(list) => list
                .into_iter()
                .map(|d| {
                    Ok(DeviceInfo {
                        id: DeviceId::new(d.id).map_err(|e| DeviceError::Driver(e.to_string()))?,
                        name: d.name,
                        classes: DeviceClasses::from_bits(d.classes),
                    })
                })
                .collect(),
            other => Err(unexpected("discover", other)),
        }
    }

    fn open(&self, id: &DeviceId) -> Result<Box<dyn Device>, DeviceError> {
        let info = self.find(id)?;
        let mut device = HostedDevice { client: Arc::clone(&self.client), info, handle: 0, generation: 0 };
        device.ensure_open()?;
        Ok(Box::new(device))
    }
}

/// A device inside a driver host. After a host restart it reopens itself
/// on the next call: the device comes back without the caller doing anything.
struct HostedDevice {
    client: Arc<Client>,
    info: DeviceInfo,
    handle: u64,
    generation: u64,
}

impl HostedDevice {
    fn ensure_open(&mut self) -> Result<u64, DeviceError> {
        let current = self.client.generation.load(Ordering::SeqCst);
        if self.generation == current && self.handle != 0 {
            return Ok(self.handle);
        }
        let open = Request::Open { id: self.info.id.to_string() };
        match self.client.call(&open, self.client.options.grace, "open")? {
            Response::Opened { handle } => {
                self.handle = handle;
                self.generation = self.client.generation.load(Ordering::SeqCst);
                Ok(handle)
            }
            other => Err(unexpected("open", other)),
        }
    }

    fn flag(&mut self, make: impl Fn(u64) -> Request, what: &str) -> Result<bool, DeviceError> {
        let handle = self.ensure_open()?;
        match self.client.call(&make(handle), self.client.options.grace, what)? {
            Response::Flag(b) => Ok(b),
            other => Err(unexpected(what, other)),
        }
    }
}

impl Drop for HostedDevice {
    fn drop(&mut self) {
        if self.handle != 0 && self.generation == self.client.generation.load(Ordering::SeqCst) {
            let _ = self.client.call(&Request::Close { handle: self.handle }, self.client.options.grace, "close");
        }
    }
}

impl Device for HostedDevice {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }
    fn as_fingerprint(&mut self) -> Option<&mut dyn FingerprintReader> {
        if self.info.classes.contains(examgate_device_sdk::DeviceClass::Fingerprint) { Some(self) } else { None }
    }
    fn as_camera(&mut self) -> Option<&mut dyn Camera> {
        if self.info.classes.contains(examgate_device_sdk::DeviceClass::Camera) { Some(self) } else { None }
    }
    fn as_sim(&mut self) -> Option<&mut dyn SimControl> {
        Some(self)
    }
}

impl Camera for HostedDevice {
    fn capture(&mut self, timeout: Duration) -> Result<Frame, DeviceError> {
        let handle = self.ensure_open()?;
        let timeout_ms = timeout.as_millis().min(u128::from(u32::MAX)) as u32;
        let deadline = timeout + self.client.options.grace;
        match self.client.call(&Request::Capture { handle, timeout_ms }, deadline, "capture")? {
            Response::Frame(f) => {
                let format = PixelFormat::from_fourcc(f.fourcc)
                    .ok_or_else(|| DeviceError::Driver(format!("driver host sent pixel format {:#010x}", f.fourcc)))?;
                Ok(Frame { width: f.width, height: f.height, format, data: f.data })
            }
            other => Err(unexpected("capture", other)),
        }
    }
}

impl FingerprintReader for HostedDevice {
    fn get_template(&mut self, timeout: Duration) -> Result<Template, DeviceError> {
        let handle = self.ensure_open()?;
        let timeout_ms = timeout.as_millis().min(u128::from(u32::MAX)) as u32;
        let deadline = timeout + self.client.options.grace;
        match self.client.call(&Request::GetTemplate { handle, timeout_ms }, deadline, "get_template")? {
            Response::Template(t) => from_wire(t),
            other => Err(unexpected("get_template", other)),
        }
    }

    fn match_templates(&mut self, probe: &Template, enrolled: &Template) -> Result<Score, DeviceError> {
        let handle = self.ensure_open()?;
        let request = Request::Match { handle, probe: to_wire(probe.clone()), enrolled: to_wire(enrolled.clone()) };
        match self.client.call(&request, self.client.options.grace, "match_templates")? {
            Response::Score(s) => Score::new(u32::from(s)).map_err(|e| DeviceError::Driver(e.to_string())),
            other => Err(unexpected("match_templates", other)),
        }
    }

    fn enabled(&mut self) -> Result<bool, DeviceError> {
        self.flag(|handle| Request::Enabled { handle }, "enabled")
    }

    fn finger_present(&mut self) -> Result<bool, DeviceError> {
        self.flag(|handle| Request::FingerPresent { handle }, "finger_present")
    }
}

impl SimControl for HostedDevice {
    fn control(&mut self, command: &SimCommand) -> Result<(), DeviceError> {
        let handle = self.ensure_open()?;
        match self.client.call(
            &Request::Sim { handle, command: command.to_string() },
            self.client.options.grace,
            "sim",
        )? {
            Response::Done => Ok(()),
            other => Err(unexpected("sim", other)),
        }
    }
}
