//! The driver-host side: load one plugin and serve requests on stdin, which
//! the agent made a Unix socket.

use std::collections::HashMap;
use std::io::{self, BufReader, BufWriter};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use examgate_device_sdk::loader::PluginLibrary;
use examgate_device_sdk::{Device, DeviceError, DeviceId, DriverFactory, SimCommand, Template, TemplateFormat};

use super::wire::{self, Request, Response, WireDeviceInfo, WireFrame, WireMeta, WireTemplate};

/// Run as a driver host until the agent closes the socket.
pub fn driver_host_main(plugin: &Path) -> ExitCode {
    let socket = match io::stdin().as_fd().try_clone_to_owned() {
        Ok(fd) => UnixStream::from(fd),
        Err(e) => {
            eprintln!("examgate-agent driver-host: stdin is not usable as a socket: {e}");
            return ExitCode::from(2);
        }
    };
    let mut reader = BufReader::new(match socket.try_clone() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("examgate-agent driver-host: {e}");
            return ExitCode::from(2);
        }
    });
    let mut writer = BufWriter::new(socket);

    let library = match PluginLibrary::load(plugin) {
        Ok(lib) => lib,
        Err(e) => {
            let _ = wire::write_frame(&mut writer, &Response::LoadFailed(e.to_string()));
            return ExitCode::from(3);
        }
    };
    let m = library.meta();
    let ready = Response::Ready(WireMeta {
        name: m.name.clone(),
        vendor: m.vendor.clone(),
        version: m.version.clone(),
        abi_version: m.abi_version,
        classes: m.classes.bits(),
    });
    if wire::write_frame(&mut writer, &ready).is_err() {
        return ExitCode::from(2);
    }

    let mut host = Host { library, devices: HashMap::new(), next_handle: 1 };
    loop {
        let request: Request = match wire::read_frame(&mut reader) {
            Ok(r) => r,
            // The agent went away or closed us: close devices and leave.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => {
                eprintln!("examgate-agent driver-host: bad request: {e}");
                break;
            }
        };
        let response =
            host.handle(request).unwrap_or_else(|e| Response::Error { kind: e.kind().code(), detail: e.detail() });
        if wire::write_frame(&mut writer, &response).is_err() {
            break;
        }
    }
    host.devices.clear();
    ExitCode::SUCCESS
}

struct Host {
    library: PluginLibrary,
    devices: HashMap<u64, Box<dyn Device>>,
    next_handle: u64,
}

pub(super) fn to_wire(t: Template) -> WireTemplate {
    WireTemplate { format: t.format.to_string(), quality: t.quality, data: t.data }
}

pub(super) fn from_wire(t: WireTemplate) -> Result<Template, DeviceError> {
    let format: TemplateFormat = t.format.parse().map_err(|e| DeviceError::InvalidArgument(format!("{e}")))?;
    Ok(Template { format, quality: t.quality, data: t.data })
}

impl Host {
    fn device(&mut self, handle: u64) -> Result<&mut Box<dyn Device>, DeviceError> {
        self.devices
            .get_mut(&handle)
            .ok_or_else(|| DeviceError::InvalidArgument(format!("no open device with handle {handle}")))
    }

    fn handle(&mut self, request: Request) -> Result<Response, DeviceError> {
        let unsupported = || DeviceError::Unsupported("this device is not a fingerprint reader".into());
        Ok(match request {
            Request::Discover => Response::Devices(
                self.library
                    .discover()?
                    .into_iter()
                    .map(|d| WireDeviceInfo { id: d.id.to_string(), name: d.name, classes: d.classes.bits() })
                    .collect(),
            ),
            Request::Open { id } => {
                let id = DeviceId::new(id).map_err(|e| DeviceError::InvalidArgument(e.to_string()))?;
                let device = self.library.open(&id)?;
                let handle = self.next_handle;
                self.next_handle += 1;
                self.devices.insert(handle, device);
                Response::Opened { handle }
            }
            Request::Close { handle } => {
                self.devices.remove(&handle);
                Response::Done
            }
            Request::GetTemplate { handle, timeout_ms } => {
                let fp = self.device(handle)?.as_fingerprint().ok_or_else(unsupported)?;
                Response::Template(to_wire(fp.get_template(Duration::from_millis(u64::from(timeout_ms)))?))
            }
            Request::Match { handle, probe, enrolled } => {
                let (probe, enrolled) = (from_wire(probe)?, from_wire(enrolled)?);
                let fp = self.device(handle)?.as_fingerprint().ok_or_else(unsupported)?;
                Response::Score(fp.match_templates(&probe, &enrolled)?.get())
            }
            Request::Enabled { handle } => {
                let fp = self.device(handle)?.as_fingerprint().ok_or_else(unsupported)?;
                Response::Flag(fp.enabled()?)
            }
            Request::FingerPresent { handle } => {
                let fp = self.device(handle)?.as_fingerprint().ok_or_else(unsupported)?;
                Response::Flag(fp.finger_present()?)
            }
            Request::Capture { handle, timeout_ms } => {
                let camera = self
                    .device(handle)?
                    .as_camera()
                    .ok_or_else(|| DeviceError::Unsupported("this device is not a camera".into()))?;
                let frame = camera.capture(Duration::from_millis(u64::from(timeout_ms)))?;
                Response::Frame(WireFrame {
                    width: frame.width,
                    height: frame.height,
                    fourcc: frame.format.fourcc(),
                    data: frame.data,
                })
            }
            Request::Sim { handle, command } => {
                let cmd: SimCommand = command.parse().map_err(|e| DeviceError::Unsupported(format!("{e}")))?;
                let sim = self
                    .device(handle)?
                    .as_sim()
                    .ok_or_else(|| DeviceError::Unsupported("this device has no simulation hooks".into()))?;
                sim.control(&cmd)?;
                Response::Done
            }
        })
    }
}
