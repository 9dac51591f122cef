//! The text script of the SAM simulator: one command a line.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::{SamFault, SlowReplies};
use crate::script::{Line, ScriptCommand, garbage};

/// A line of a SAM simulator script (stdin of `examgate-sim sam`, or a
/// scenario file):
///
/// | line | effect |
/// |---|---|
/// | `insert [N]` | card N (1-based, in `--card` order; default 1) is put on the reader |
/// | `remove` | the card is taken off |
/// | `fail SW3 [CMD PARA]` | the next command is answered with SW3 |
/// | `pull-during-read` | the card leaves when the next read arrives (that read fails, SW3 41) |
/// | `corrupt-next [CMD PARA]` | the next reply has a bad checksum |
/// | `garbage-next N [CMD PARA]` | N garbage bytes go before the next reply |
/// | `drop-next [CMD PARA]` | the next command gets no reply |
/// | `slow DELAY_MS [CHUNK_LEN GAP_MS]` | every reply waits, and goes in chunks |
/// | `wait MS` | the script pauses |
/// | `status` | prints the card on the reader and the command count |
/// | `quit` | the simulator exits |
///
/// With CMD PARA (hex, like SW3), a fault waits for the next such command.
/// Empty lines and lines starting with `#` are skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SamScript {
    Insert(usize),
    Remove,
    Fault(SamFault, Option<[u8; 2]>),
    Slow(SlowReplies),
    Wait(Duration),
    Status,
    Quit,
}

impl FromStr for SamScript {
    type Err = String;

    fn from_str(line: &str) -> Result<Self, Self::Err> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let l = Line(line);
        let (words, on) = match words.as_slice() {
            [head @ .., cmd, para] if words.len() >= 3 && !matches!(words[0], "slow" | "insert" | "wait") => {
                match (l.hex(cmd), l.hex(para)) {
                    (Ok(c), Ok(p)) => (head.to_vec(), Some([c, p])),
                    _ => (words.clone(), None),
                }
            }
            _ => (words.clone(), None),
        };
        let fault = |f: SamFault| Ok(SamScript::Fault(f, on));
        match words.as_slice() {
            ["fail", sw3] => fault(SamFault::Fail(l.hex(sw3)?)),
            ["pull-during-read"] if on.is_none() => fault(SamFault::PullDuringRead),
            ["corrupt-next"] => fault(SamFault::CorruptReply),
            ["garbage-next", n] => fault(SamFault::GarbageBeforeReply(garbage(l.count(n)?))),
            ["drop-next"] => fault(SamFault::DropReply),
            _ if on.is_some() => Err(l.err()),
            ["insert"] => Ok(SamScript::Insert(0)),
            ["insert", n] => usize::try_from(l.num(n)?)
                .ok()
                .and_then(|n| n.checked_sub(1))
                .map(SamScript::Insert)
                .ok_or_else(|| l.err()),
            ["remove"] => Ok(SamScript::Remove),
            ["slow", delay] => Ok(SamScript::Slow(SlowReplies { delay: l.ms(delay)?, ..SlowReplies::default() })),
            ["slow", delay, len, gap] => Ok(SamScript::Slow(SlowReplies {
                delay: l.ms(delay)?,
                chunk_len: l.count(len)?,
                chunk_gap: l.ms(gap)?,
            })),
            ["wait", t] => Ok(SamScript::Wait(l.ms(t)?)),
            ["status"] => Ok(SamScript::Status),
            ["quit"] => Ok(SamScript::Quit),
            _ => Err(l.err()),
        }
    }
}

impl ScriptCommand for SamScript {
    fn wait(&self) -> Option<Duration> {
        match self {
            SamScript::Wait(t) => Some(*t),
            _ => None,
        }
    }

    fn is_quit(&self) -> bool {
        *self == SamScript::Quit
    }
}

impl fmt::Display for SamScript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SamScript::Insert(n) => write!(f, "insert {}", n + 1),
            SamScript::Remove => f.write_str("remove"),
            SamScript::Fault(fault, on) => {
                match fault {
                    SamFault::Fail(sw3) => write!(f, "fail {sw3:02X}")?,
                    SamFault::PullDuringRead => f.write_str("pull-during-read")?,
                    SamFault::CorruptReply => f.write_str("corrupt-next")?,
                    SamFault::GarbageBeforeReply(g) => write!(f, "garbage-next {}", g.len())?,
                    SamFault::DropReply => f.write_str("drop-next")?,
                }
                match on {
                    Some([c, p]) => write!(f, " {c:02X} {p:02X}"),
                    None => Ok(()),
                }
            }
            SamScript::Slow(s) => write!(f, "slow {} {} {}", s.delay.as_millis(), s.chunk_len, s.chunk_gap.as_millis()),
            SamScript::Wait(t) => write!(f, "wait {}", t.as_millis()),
            SamScript::Status => f.write_str("status"),
            SamScript::Quit => f.write_str("quit"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_lines_round_trip() {
        for line in [
            "insert 2",
            "remove",
            "fail 41",
            "fail 80 20 01",
            "pull-during-read",
            "corrupt-next",
            "corrupt-next 30 01",
            "garbage-next 5",
            "garbage-next 5 30 10",
            "drop-next",
            "drop-next 20 02",
            "slow 20 16 1",
            "wait 100",
            "status",
            "quit",
        ] {
            let cmd: SamScript = line.parse().unwrap();
            assert_eq!(cmd.to_string(), line);
        }
        for bad in
            ["insert 0", "fail", "fail zz", "slow", "explode", "wait -1", "remove 30 01", "pull-during-read 30 01"]
        {
            assert!(bad.parse::<SamScript>().is_err(), "{bad}");
        }
    }
}
