//! `read-card` and `decode-sam`: an ID card once, for a person or a script.
//! Both print the card JSON of the API with `--json`, else one field a line;
//! a failure is one line on stderr and a non-zero exit.

use std::io::Read;
use std::time::Duration;

use anyhow::{Context, bail};
use examgate_device_sdk::idcard::{CardSource, IdentityCard};
use examgate_device_sdk::{Device, DriverFactory};
use examgate_pcsc_idcard::PcscIdCardFactory;

use crate::cli::{DecodeSamArgs, ReadCardArgs};
use crate::idcard;

fn print(card: &IdentityCard, json: bool) -> anyhow::Result<()> {
    let card = idcard::to_json(card);
    if json {
        println!("{}", serde_json::to_string_pretty(&card).context("cannot write JSON")?);
    } else {
        print!("{}", idcard::human(&card));
    }
    Ok(())
}

/// The reader to read from: the only one, else the first with a card on it,
/// else the first.
fn pick_reader(factory: &PcscIdCardFactory, filter: Option<&str>) -> anyhow::Result<Box<dyn Device>> {
    let readers = factory.discover()?;
    if readers.is_empty() {
        match filter {
            Some(name) => bail!("no PC/SC reader whose name contains {name:?}; `pcsc_scan -r` lists the readers"),
            None => bail!("no PC/SC reader is connected; plug in the ID card reader (`pcsc_scan -r` lists readers)"),
        }
    }
    let mut first = None;
    for info in &readers {
        let mut device = match factory.open(&info.id) {
            Ok(device) => device,
            Err(e) => {
                tracing::debug!(reader = %info.name, "cannot open: {e}");
                continue;
            }
        };
        let present = device.as_idcard().is_some_and(|r| r.card_present().unwrap_or(false));
        if present || readers.len() == 1 {
            return Ok(device);
        }
        first.get_or_insert(device);
    }
    first.with_context(|| format!("cannot open reader {}", readers[0].name))
}

/// `read-card`: read the card on a PC/SC reader once.
pub fn read_card(args: ReadCardArgs) -> anyhow::Result<()> {
    let factory = PcscIdCardFactory::new(args.reader.clone());
    let mut device = pick_reader(&factory, args.reader.as_deref())?;
    let name = device.info().name.clone();
    let reader = device.as_idcard().with_context(|| format!("{name} is not an ID card reader"))?;
    let read = reader.read_card(Duration::from_millis(args.timeout_ms)).with_context(|| format!("reader {name}"))?;
    let source = if read.text.is_empty() { CardSource::PcscIdentifiers } else { CardSource::PcscDecoded };
    let card = idcard::decode(&read, source).with_context(|| format!("reader {name}: the card's record"))?;
    tracing::info!(reader = %name, card = %idcard::log_tag(&card), "card read");
    print(&card, args.json)
}

/// Largest file taken as a frame: a 30 10 reply is 2 KiB; anything far
/// bigger is not one.
const MAX_FRAME_FILE: u64 = 64 * 1024;

/// `decode-sam`: a saved raw reply frame (30 01 or 30 10) to a card.
pub fn decode_sam(args: DecodeSamArgs) -> anyhow::Result<()> {
    let from_stdin = args.file.as_os_str() == "-";
    let label = if from_stdin { "standard input".to_owned() } else { args.file.display().to_string() };
    let mut bytes = Vec::new();
    let read = if from_stdin {
        std::io::stdin().lock().take(MAX_FRAME_FILE + 1).read_to_end(&mut bytes)
    } else {
        std::fs::File::open(&args.file).and_then(|f| f.take(MAX_FRAME_FILE + 1).read_to_end(&mut bytes))
    };
    read.with_context(|| format!("cannot read {label}"))?;
    if bytes.len() as u64 > MAX_FRAME_FILE {
        bail!("{label}: more than {MAX_FRAME_FILE} bytes; a SAM reply frame is at most a few KiB");
    }
    let card = examgate_sam::decode_reply_file(&bytes).with_context(|| label.clone())?;
    print(&card, args.json)
}
