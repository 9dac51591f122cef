//! The text script of the AS60x simulator: one command a line.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::{As60xFault, PoorReason};
use crate::script::{Line, ScriptCommand, garbage};

/// A line of an AS60x simulator script (stdin of `examgate-sim as60x`, or a
/// scenario file):
///
/// | line | effect |
/// |---|---|
/// | `finger N` | finger N (1-based) is on the sensor |
/// | `lift` | no finger on the sensor: GenImg answers `02` |
/// | `poor-quality N [REASON]` | the next N captures fail: `capture-failed` (03), `too-dry` (04), `too-wet` (05) at GenImg; `too-messy` (06), `too-few-features` (07, the default) at Img2Tz |
/// | `fail CODE [INSTR]` | the next command (or the next INSTR) is answered with confirmation CODE |
/// | `corrupt-next [INSTR]` | the next reply has a bad checksum |
/// | `garbage-next N [INSTR]` | N garbage bytes go before the next reply |
/// | `drop-next [INSTR]` | the next command gets no reply |
/// | `password N` | the module's password is N (decimal or 0x hex): a host that verifies another gets `13` |
/// | `packet-size 32\|64\|128\|256` | the data packet size ReadSysPara reports and UpChar uses |
/// | `security-level 1..5` | the module's match threshold (its score for a match: 30, 40, 50, 65, 80) |
/// | `unplug` / `plug` | the pseudo-terminal closes / a new one opens behind the same link |
/// | `wait MS` | the script pauses |
/// | `status` | prints the finger, the counters and the library |
/// | `quit` | the simulator exits |
///
/// CODE and INSTR are hex. Empty lines and lines starting with `#` are skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum As60xScript {
    Finger(u32),
    Lift,
    PoorQuality(u32, PoorReason),
    Fault(As60xFault, Option<u8>),
    Password(u32),
    PacketSize(usize),
    SecurityLevel(u16),
    Unplug,
    Plug,
    Wait(Duration),
    Status,
    Quit,
}

impl FromStr for As60xScript {
    type Err = String;

    fn from_str(line: &str) -> Result<Self, Self::Err> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let l = Line(line);
        let fault = |f: As60xFault, on: Option<&&str>| Ok(As60xScript::Fault(f, on.map(|w| l.hex(w)).transpose()?));
        match words.as_slice() {
            ["finger", n] => Ok(As60xScript::Finger(n.parse().ok().filter(|n| *n > 0).ok_or_else(|| l.err())?)),
            ["lift"] => Ok(As60xScript::Lift),
            ["poor-quality", n] => Ok(As60xScript::PoorQuality(n.parse().map_err(|_| l.err())?, PoorReason::default())),
            ["poor-quality", n, reason] => {
                Ok(As60xScript::PoorQuality(n.parse().map_err(|_| l.err())?, reason.parse().map_err(|_| l.err())?))
            }
            ["fail", code, on @ ..] if on.len() <= 1 => fault(As60xFault::Fail(l.hex(code)?), on.first()),
            ["corrupt-next", on @ ..] if on.len() <= 1 => fault(As60xFault::CorruptReply, on.first()),
            ["drop-next", on @ ..] if on.len() <= 1 => fault(As60xFault::DropReply, on.first()),
            ["garbage-next", n, on @ ..] if on.len() <= 1 => {
                fault(As60xFault::GarbageBeforeReply(garbage(l.count(n)?)), on.first())
            }
            ["password", p] => {
                let p = match p.strip_prefix("0x") {
                    Some(h) => u32::from_str_radix(h, 16).ok(),
                    None => p.parse().ok(),
                };
                Ok(As60xScript::Password(p.ok_or_else(|| l.err())?))
            }
            ["packet-size", n] => match l.num(n)? {
                n @ (32 | 64 | 128 | 256) => Ok(As60xScript::PacketSize(n as usize)),
                _ => Err(l.err()),
            },
            ["security-level", n] => match l.num(n)? {
                n @ 1..=5 => Ok(As60xScript::SecurityLevel(n as u16)),
                _ => Err(l.err()),
            },
            ["unplug"] => Ok(As60xScript::Unplug),
            ["plug"] => Ok(As60xScript::Plug),
            ["wait", t] => Ok(As60xScript::Wait(l.ms(t)?)),
            ["status"] => Ok(As60xScript::Status),
            ["quit"] => Ok(As60xScript::Quit),
            _ => Err(l.err()),
        }
    }
}

impl ScriptCommand for As60xScript {
    fn wait(&self) -> Option<Duration> {
        match self {
            As60xScript::Wait(t) => Some(*t),
            _ => None,
        }
    }

    fn is_quit(&self) -> bool {
        *self == As60xScript::Quit
    }
}

impl fmt::Display for As60xScript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            As60xScript::Finger(n) => write!(f, "finger {n}"),
            As60xScript::Lift => f.write_str("lift"),
            As60xScript::PoorQuality(n, reason) => write!(f, "poor-quality {n} {reason}"),
            As60xScript::Fault(fault, on) => {
                match fault {
                    As60xFault::Fail(code) => write!(f, "fail {code:02X}")?,
                    As60xFault::CorruptReply => f.write_str("corrupt-next")?,
                    As60xFault::GarbageBeforeReply(g) => write!(f, "garbage-next {}", g.len())?,
                    As60xFault::DropReply => f.write_str("drop-next")?,
                }
                match on {
                    Some(code) => write!(f, " {code:02X}"),
                    None => Ok(()),
                }
            }
            As60xScript::Password(p) => write!(f, "password {p}"),
            As60xScript::PacketSize(n) => write!(f, "packet-size {n}"),
            As60xScript::SecurityLevel(n) => write!(f, "security-level {n}"),
            As60xScript::Unplug => f.write_str("unplug"),
            As60xScript::Plug => f.write_str("plug"),
            As60xScript::Wait(t) => write!(f, "wait {}", t.as_millis()),
            As60xScript::Status => f.write_str("status"),
            As60xScript::Quit => f.write_str("quit"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_lines_round_trip() {
        for line in [
            "finger 2",
            "lift",
            "poor-quality 1 too-few-features",
            "poor-quality 3 too-wet",
            "poor-quality 1 capture-failed",
            "fail 13",
            "fail 0E 09",
            "corrupt-next",
            "corrupt-next 08",
            "garbage-next 5",
            "garbage-next 5 03",
            "drop-next 01",
            "password 1234",
            "packet-size 32",
            "security-level 5",
            "unplug",
            "plug",
            "wait 100",
            "status",
            "quit",
        ] {
            let cmd: As60xScript = line.parse().unwrap();
            assert_eq!(cmd.to_string(), line);
        }
        assert_eq!("poor-quality 2".parse(), Ok(As60xScript::PoorQuality(2, PoorReason::TooFewFeatures)));
        assert_eq!("password 0x10".parse(), Ok(As60xScript::Password(16)));
        for bad in [
            "finger 0",
            "finger",
            "fail",
            "fail zz",
            "fail 01 02 03",
            "poor-quality x",
            "poor-quality 1 sticky",
            "packet-size 100",
            "security-level 6",
            "wait -1",
            "explode",
        ] {
            assert!(bad.parse::<As60xScript>().is_err(), "{bad}");
        }
    }
}
