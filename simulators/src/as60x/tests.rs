use super::wire::{Inbox, PID_ACK, PID_COMMAND, PID_DATA, PID_END, packet};
use super::*;
use examgate_device_sdk::{SimCommand, SimControl};

const ADDR: u32 = 0xFFFF_FFFF;

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace().map(|b| u8::from_str_radix(b, 16).unwrap()).collect()
}

fn command(payload: &[u8]) -> Vec<u8> {
    packet(ADDR, PID_COMMAND, payload)
}

/// Feed bytes to the module; what it sends back.
fn exchange(sim: &As60xSimulator, bytes: &[u8]) -> Vec<u8> {
    let mut inbox = Inbox { buf: bytes.to_vec() };
    let mut out = Vec::new();
    while let Some(incoming) = inbox.next() {
        out.extend(sim.respond(incoming));
    }
    out
}

/// The packets in `bytes`, as (PID, payload).
fn packets(bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut inbox = Inbox { buf: bytes.to_vec() };
    std::iter::from_fn(|| match inbox.next()? {
        wire::Incoming::Packet { pid, payload, .. } => Some((pid, payload)),
        wire::Incoming::Broken => Some((0, vec![])),
    })
    .collect()
}

/// The confirmation code and results of the one ack `payload` gets.
fn ask(sim: &As60xSimulator, payload: &[u8]) -> (u8, Vec<u8>) {
    let got = packets(&exchange(sim, &command(payload)));
    assert_eq!(got.len(), 1, "{payload:02X?}: {got:?}");
    assert_eq!(got[0].0, PID_ACK);
    (got[0].1[0], got[0].1[1..].to_vec())
}

/// Capture finger on the sensor into buffer `b` and upload it.
fn capture(sim: &As60xSimulator, b: u8) -> Vec<u8> {
    assert_eq!(ask(sim, &[0x01]).0, 0x00);
    assert_eq!(ask(sim, &[0x02, b]).0, 0x00);
    let got = packets(&exchange(sim, &command(&[0x08, b])));
    assert_eq!(got[0], (PID_ACK, vec![0x00]));
    got[1..].iter().flat_map(|(_, p)| p.clone()).collect()
}

fn download(sim: &As60xSimulator, b: u8, template: &[u8], packet_size: usize) {
    assert_eq!(ask(sim, &[0x09, b]).0, 0x00);
    let chunks: Vec<&[u8]> = template.chunks(packet_size).collect();
    for (i, c) in chunks.iter().enumerate() {
        let pid = if i + 1 == chunks.len() { PID_END } else { PID_DATA };
        assert!(exchange(sim, &packet(ADDR, pid, c)).is_empty(), "data packets get no reply");
    }
}

#[test]
fn answers_gen_img_with_the_documented_packets() {
    let sim = As60xSimulator::default();
    assert_eq!(command(&[0x01]), hex("EF 01 FF FF FF FF 01 00 03 01 00 05"));
    assert_eq!(exchange(&sim, &command(&[0x01])), hex("EF 01 FF FF FF FF 07 00 03 02 00 0C"), "no finger: 02");
    sim.place_finger(1).unwrap();
    assert_eq!(exchange(&sim, &command(&[0x01])), hex("EF 01 FF FF FF FF 07 00 03 00 00 0A"));
    assert_eq!(sim.counters().captures, 2);
}

#[test]
fn uploads_templates_in_packets_of_the_configured_size() {
    for (size, count) in [(32, 16), (64, 8), (128, 4), (256, 2)] {
        let sim = As60xSimulator::new(As60xConfig { packet_size: size, finger: Some(2), ..As60xConfig::default() });
        assert_eq!(ask(&sim, &[0x01]).0, 0x00);
        assert_eq!(ask(&sim, &[0x02, 0x01]).0, 0x00);
        let got = packets(&exchange(&sim, &command(&[0x08, 0x01])));
        assert_eq!(got.len(), 1 + count, "packet size {size}");
        assert!(got[1..count].iter().all(|(pid, p)| *pid == PID_DATA && p.len() == size));
        assert_eq!(got[count].0, PID_END);
        let template: Vec<u8> = got[1..].iter().flat_map(|(_, p)| p.clone()).collect();
        assert_eq!(template, sim.template_for(2, 1), "the first capture of finger 2");
    }
}

#[test]
fn matches_downloaded_templates_with_the_on_module_score() {
    let sim = As60xSimulator::default();
    let (a, b, other) = (sim.template_for(1, 1), sim.template_for(1, 2), sim.template_for(2, 1));
    download(&sim, 1, &a, 128);
    download(&sim, 2, &b, 128);
    let (code, score) = ask(&sim, &[0x03]);
    let score = u16::from_be_bytes([score[0], score[1]]);
    assert_eq!((code, score), (0x00, As60xSimulator::match_score(&a, &b)));
    assert!(score >= 80, "{score}");
    download(&sim, 2, &other, 32);
    let (code, score) = ask(&sim, &[0x03]);
    assert_eq!(code, 0x08);
    assert!(u16::from_be_bytes([score[0], score[1]]) < sim.threshold());
}

#[test]
fn a_broken_download_leaves_the_buffer_invalid() {
    let sim = As60xSimulator::default();
    let t = sim.template_for(1, 1);
    download(&sim, 1, &t, 128);
    download(&sim, 2, &t[..384], 128);
    assert_eq!(ask(&sim, &[0x03]), (0x15, vec![0, 0]), "short download");
    assert_eq!(ask(&sim, &[0x09, 0x02]).0, 0x00);
    let mut data = packet(ADDR, PID_DATA, &t[..128]);
    data[20] ^= 0xFF;
    assert_eq!(packets(&exchange(&sim, &data)), [(PID_ACK, vec![0x01])], "bad checksum: 01");
    assert_eq!(ask(&sim, &[0x03]).0, 0x15);
    download(&sim, 2, &t, 256);
    assert_eq!(ask(&sim, &[0x03]).0, 0x15, "packets larger than the module's 128 bytes are refused");
    download(&sim, 2, &t, 128);
    assert_eq!(ask(&sim, &[0x03]).0, 0x00);
}

#[test]
fn a_password_must_be_verified_first() {
    let sim = As60xSimulator::new(As60xConfig { password: 1234, finger: Some(1), ..As60xConfig::default() });
    assert_eq!(ask(&sim, &[0x01]).0, 0x13);
    assert_eq!(ask(&sim, &[0x13, 0, 0, 0, 0]).0, 0x13, "wrong password");
    assert_eq!(ask(&sim, &[0x13, 0, 0, 0x04, 0xD2]).0, 0x00);
    assert_eq!(ask(&sim, &[0x01]).0, 0x00);
    sim.power_on();
    assert_eq!(ask(&sim, &[0x01]).0, 0x13, "verified again after power-up");
}

#[test]
fn poor_captures_fail_at_their_step_then_succeed() {
    let sim = As60xSimulator::new(As60xConfig { finger: Some(1), ..As60xConfig::default() });
    sim.poor_quality(2, PoorReason::TooWet);
    assert_eq!(ask(&sim, &[0x01]).0, 0x05);
    assert_eq!(ask(&sim, &[0x02, 0x01]).0, 0x15, "no image to extract");
    assert_eq!(ask(&sim, &[0x01]).0, 0x05);
    assert_eq!(ask(&sim, &[0x01]).0, 0x00);
    sim.poor_quality(1, PoorReason::TooFewFeatures);
    assert_eq!(ask(&sim, &[0x01]).0, 0x00);
    assert_eq!(ask(&sim, &[0x02, 0x01]).0, 0x07);
    assert_eq!(ask(&sim, &[0x02, 0x01]).0, 0x00);
}

#[test]
fn scripted_faults_apply_once() {
    let sim = As60xSimulator::default();
    sim.inject(As60xFault::Fail(0x0E), Some(0x09));
    sim.inject(As60xFault::CorruptReply, None);
    assert_eq!(packets(&exchange(&sim, &command(&[0x1D]))), [(0, vec![])], "corrupt");
    assert_eq!(ask(&sim, &[0x09, 0x01]).0, 0x0E);
    assert_eq!(ask(&sim, &[0x09, 0x01]).0, 0x00);
    sim.inject(As60xFault::Fail(0x01), None);
    assert_eq!(ask(&sim, &[0x0F]), (0x01, vec![0; 16]), "a failed ReadSysPara keeps its length");
    sim.inject(As60xFault::GarbageBeforeReply(vec![1, 2, 3]), None);
    assert_eq!(&exchange(&sim, &command(&[0x1D]))[..5], &[1, 2, 3, 0xEF, 0x01]);
    sim.inject(As60xFault::DropReply, Some(0x1D));
    assert!(exchange(&sim, &command(&[0x1D])).is_empty());
    assert_eq!(ask(&sim, &[0x1D]), (0x00, vec![0, 0]));
}

#[test]
fn broken_foreign_and_unknown_packets() {
    let sim = As60xSimulator::default();
    let mut bad = command(&[0x01]);
    bad[11] ^= 1;
    assert_eq!(exchange(&sim, &bad), hex("EF 01 FF FF FF FF 07 00 03 01 00 0B"));
    assert!(exchange(&sim, &packet(0x1234_5678, PID_COMMAND, &[0x01])).is_empty(), "another module's");
    assert_eq!(ask(&sim, &[0x0A]).0, 0x01, "UpImage is not simulated");
    assert_eq!(ask(&sim, &[0x01, 0x00]).0, 0x01, "wrong parameters");
    assert_eq!(sim.counters().broken, 1);
}

#[test]
fn keeps_a_library() {
    let sim = As60xSimulator::new(As60xConfig { finger: Some(3), ..As60xConfig::default() });
    // Enrol: two impressions, merged, stored at page 7.
    assert_eq!(ask(&sim, &[0x01]).0, 0x00);
    assert_eq!(ask(&sim, &[0x02, 0x01]).0, 0x00);
    assert_eq!(ask(&sim, &[0x01]).0, 0x00);
    assert_eq!(ask(&sim, &[0x02, 0x02]).0, 0x00);
    assert_eq!(ask(&sim, &[0x05]).0, 0x00);
    assert_eq!(ask(&sim, &[0x06, 0x01, 0x00, 0x07]).0, 0x00);
    assert_eq!(ask(&sim, &[0x06, 0x01, 0x01, 0x2C]).0, 0x0B, "page 300 is beyond the library");
    assert_eq!(ask(&sim, &[0x1D]), (0x00, vec![0, 1]));
    // Identify a third impression.
    let _ = capture(&sim, 1);
    let (code, hit) = ask(&sim, &[0x04, 0x01, 0x00, 0x00, 0x01, 0x2C]);
    assert_eq!((code, &hit[..2]), (0x00, &[0x00, 0x07][..]));
    assert_eq!(ask(&sim, &[0x04, 0x01, 0x00, 0x08, 0x00, 0x10]), (0x09, vec![0; 4]), "not in pages 8..24");
    assert_eq!(ask(&sim, &[0x07, 0x02, 0x00, 0x08]).0, 0x0C, "empty page");
    assert_eq!(ask(&sim, &[0x07, 0x02, 0x00, 0x07]).0, 0x00);
    assert_eq!(ask(&sim, &[0x0C, 0x01, 0x2B, 0x00, 0x02]).0, 0x10);
    assert_eq!(ask(&sim, &[0x0C, 0x00, 0x07, 0x00, 0x01]).0, 0x00);
    assert_eq!(ask(&sim, &[0x06, 0x02, 0x00, 0x01]).0, 0x00);
    assert_eq!(ask(&sim, &[0x0D]).0, 0x00);
    assert_eq!(sim.library_len(), 0);
    // A merge of two fingers fails.
    download(&sim, 1, &sim.template_for(1, 1), 128);
    download(&sim, 2, &sim.template_for(2, 1), 128);
    assert_eq!(ask(&sim, &[0x05]).0, 0x0A);
}

#[test]
fn reports_its_system_parameters() {
    let sim = As60xSimulator::new(As60xConfig { packet_size: 64, security_level: 4, ..As60xConfig::default() });
    let (code, p) = ask(&sim, &[0x0F]);
    assert_eq!(code, 0x00);
    assert_eq!(p, hex("00 00 00 09 01 2C 00 04 FF FF FF FF 00 01 00 06"));
    assert_eq!(sim.threshold(), 65);
}

#[test]
fn serves_a_pty_behind_a_link_that_unplugging_removes() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("as608");
    let sim = As60xSimulator::new(As60xConfig { finger: Some(1), ..As60xConfig::default() });
    let mut handle = sim.spawn_pty(Some(link.clone())).unwrap();
    assert_eq!(handle.port(), Some(link.clone()));
    let first = handle.pty_path().unwrap().to_owned();
    assert_eq!(std::fs::read_link(&link).unwrap(), first);

    let exchange_on = |path: &std::path::Path| {
        let mut port = serialport::new(path.to_str().unwrap(), 57_600)
            .timeout(std::time::Duration::from_secs(10))
            .open_native()
            .unwrap();
        port.write_all(&command(&[0x01])).unwrap();
        let mut reply = [0u8; 12];
        port.read_exact(&mut reply).unwrap();
        reply
    };
    assert_eq!(exchange_on(&link).to_vec(), hex("EF 01 FF FF FF FF 07 00 03 00 00 0A"));

    handle.unplug().unwrap();
    assert!(!handle.is_plugged());
    assert!(std::fs::symlink_metadata(&link).is_err(), "unplugged: the link is gone");
    handle.control(&SimCommand::Plug).unwrap();
    assert_eq!(std::fs::read_link(&link).unwrap(), handle.pty_path().unwrap());
    assert_eq!(exchange_on(&link).to_vec(), hex("EF 01 FF FF FF FF 07 00 03 00 00 0A"));
    drop(handle);
    assert!(std::fs::symlink_metadata(&link).is_err(), "dropped: the link is gone");
}
