//! What a PC reports about itself at enrolment: its MAC addresses, the IP it
//! reaches the server from, and its host name. Read from /sys and /proc.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::Path;

/// A network interface with a hardware address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub mac: String,
}

/// Interfaces with a real MAC (not loopback, not all zeros), by name.
pub fn interfaces() -> Vec<Interface> {
    interfaces_in(Path::new("/sys/class/net"))
}

pub fn interfaces_in(root: &Path) -> Vec<Interface> {
    let Ok(entries) = std::fs::read_dir(root) else { return Vec::new() };
    let mut out: Vec<Interface> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let mac = std::fs::read_to_string(e.path().join("address")).ok()?.trim().to_ascii_lowercase();
            let real = mac.len() == 17 && mac != "00:00:00:00:00:00" && name != "lo";
            real.then_some(Interface { name, mac })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The local address the system would use to reach `server` (no packet is sent).
pub fn local_ip_towards(server: SocketAddr) -> Option<IpAddr> {
    let bind: SocketAddr = if server.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().ok()?;
    let socket = UdpSocket::bind(bind).ok()?;
    socket.connect(server).ok()?;
    socket.local_addr().ok().map(|a| a.ip())
}

/// The interface the routing table sends `server` through (IPv4), from /proc/net/route.
pub fn route_interface(server: IpAddr) -> Option<String> {
    let IpAddr::V4(target) = server else { return None };
    let table = std::fs::read_to_string("/proc/net/route").ok()?;
    let target = u32::from_le_bytes(target.octets());
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?;
            (target & mask == dest).then(|| (mask.count_ones(), f[0].to_owned()))
        })
        .max_by_key(|(bits, _)| *bits)
        .map(|(_, iface)| iface)
}

/// The MAC this PC speaks to `server` from: the routed interface's, else the first real one.
pub fn mac_towards(server: IpAddr) -> Option<String> {
    let all = interfaces();
    route_interface(server)
        .and_then(|name| all.iter().find(|i| i.name == name).map(|i| i.mac.clone()))
        .or_else(|| all.first().map(|i| i.mac.clone()))
}

pub fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_real_interfaces_only() {
        let dir = tempfile::tempdir().unwrap();
        for (name, mac) in [("lo", "00:00:00:00:00:00"), ("eth0", "02:42:AC:11:00:02"), ("dummy", "00:00:00:00:00:00")]
        {
            std::fs::create_dir(dir.path().join(name)).unwrap();
            std::fs::write(dir.path().join(name).join("address"), format!("{mac}\n")).unwrap();
        }
        assert_eq!(interfaces_in(dir.path()), vec![Interface { name: "eth0".into(), mac: "02:42:ac:11:00:02".into() }]);
    }

    #[test]
    fn finds_the_local_address_towards_loopback() {
        assert_eq!(local_ip_towards("127.0.0.1:9".parse().unwrap()), Some("127.0.0.1".parse().unwrap()));
    }
}
