//! What the simulators' text scripts share: lines from a scenario file or
//! stdin, each answered on stdout (`ok LINE`, a status, or `error …`) so that
//! tests await the answer instead of sleeping; `wait MS` and `quit`; and the
//! way a line's numbers are read. Each simulator keeps its own command words
//! ([`crate::sam::SamScript`], [`crate::as60x::As60xScript`]).

use std::io::BufRead;
use std::str::FromStr;
use std::time::Duration;

/// Script lines from `scenario` (a file), else stdin (read lazily: a test
/// writes them as it goes), trimmed, without blank lines and `#` comments.
pub fn lines(scenario: Option<&str>) -> Result<impl Iterator<Item = Result<String, String>>, String> {
    let lines: Box<dyn BufRead> = match scenario {
        Some(file) => Box::new(std::io::BufReader::new(
            std::fs::File::open(file).map_err(|e| format!("cannot read scenario {file}: {e}"))?,
        )),
        None => Box::new(std::io::stdin().lock()),
    };
    Ok(lines
        .lines()
        .map(|l| l.map(|l| l.trim().to_owned()).map_err(|e| e.to_string()))
        .filter(|l| !matches!(l, Ok(l) if l.is_empty() || l.starts_with('#'))))
}

/// A simulator's script command, as far as [`follow`] needs to know it.
pub trait ScriptCommand: FromStr<Err = String> {
    /// `wait MS`: the script pauses this long.
    fn wait(&self) -> Option<Duration>;
    /// `quit`: the simulator exits.
    fn is_quit(&self) -> bool;
}

/// How a script ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScriptEnd {
    /// At `quit`, not yet answered: the caller stops, then says `ok quit`.
    Quit,
    /// The lines ran out; the simulator serves on.
    LinesEnded,
}

/// Follow a script: each line is parsed, `wait` sleeps here, any other
/// command is carried out by `apply`, and `say` prints the answer.
pub fn follow<S: ScriptCommand>(
    lines: impl IntoIterator<Item = Result<String, String>>,
    mut apply: impl FnMut(&S) -> Result<String, String>,
    say: impl Fn(&str),
) -> Result<ScriptEnd, String> {
    for line in lines {
        let line = line?;
        match line.parse::<S>() {
            Ok(cmd) if cmd.is_quit() => return Ok(ScriptEnd::Quit),
            Ok(cmd) => match cmd.wait() {
                Some(t) => {
                    std::thread::sleep(t);
                    say(&format!("ok {line}"));
                }
                None => match apply(&cmd) {
                    Ok(ack) => say(&ack),
                    Err(e) => say(&format!("error {e}")),
                },
            },
            Err(e) => say(&format!("error {e}")),
        }
    }
    Ok(ScriptEnd::LinesEnded)
}

/// A script line being read; its errors quote it.
#[derive(Clone, Copy)]
pub(crate) struct Line<'a>(pub &'a str);

impl Line<'_> {
    pub fn err(self) -> String {
        format!("cannot read script line {:?}; see `examgate-sim --help`", self.0)
    }

    pub fn hex(self, word: &str) -> Result<u8, String> {
        u8::from_str_radix(word, 16).map_err(|_| self.err())
    }

    pub fn num(self, word: &str) -> Result<u64, String> {
        word.parse().map_err(|_| self.err())
    }

    /// A count of bytes or the like.
    pub fn count(self, word: &str) -> Result<usize, String> {
        usize::try_from(self.num(word)?).map_err(|_| self.err())
    }

    pub fn ms(self, word: &str) -> Result<Duration, String> {
        self.num(word).map(Duration::from_millis)
    }
}

/// The bytes `garbage-next N` sends before a reply.
pub(crate) fn garbage(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 37 + 11) as u8).collect()
}
