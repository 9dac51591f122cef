//! The Rust mirror of the C ABI (`examgate_device_sdk::abi`) lays out every
//! struct as this machine's C compiler lays out `examgate_plugin.h`: the
//! build script compiles `layout_probe.c`, which prints each size and offset.

use std::collections::BTreeMap;
use std::mem::{offset_of, size_of};
use std::path::Path;
use std::process::Command;

use examgate_device_sdk::abi::*;

/// `name value` pairs: `eg_plugin 128`, `eg_plugin.sim 120`.
fn rust_layout() -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    macro_rules! layout {
        ($c:literal = $ty:ty { $($cf:ident => $rf:ident),* $(,)? }) => {
            m.insert($c.to_owned(), size_of::<$ty>());
            $( m.insert(format!("{}.{}", $c, stringify!($cf)), offset_of!($ty, $rf)); )*
        };
    }
    layout!("eg_str" = EgStr { ptr => ptr, len => len });
    layout!("eg_msg" = EgMsg { text => text, len => len });
    layout!("eg_device_info" = EgDeviceInfo { id => id, name => name, classes => classes, reserved => reserved });
    layout!("eg_template" = EgTemplate {
        format => format, reserved => reserved, vendor_format => vendor_format, data => data, len => len,
    });
    layout!("eg_template_out" = EgTemplateOut {
        format => format, quality => quality, vendor_format => vendor_format, data => data, len => len,
    });
    layout!("eg_fingerprint_ops" = EgFingerprintOps {
        struct_size => struct_size, reserved => reserved, get_template => get_template,
        match_templates => match_templates, enabled => enabled, finger_present => finger_present,
    });
    layout!("eg_card_out" = EgCardOut {
        text => text, text_len => text_len, photo => photo, photo_len => photo_len,
        chip_serial => chip_serial, chip_serial_len => chip_serial_len,
    });
    layout!("eg_idcard_ops" = EgIdcardOps { struct_size => struct_size, reserved => reserved, read_card => read_card });
    layout!("eg_camera_ops" = EgCameraOps { struct_size => struct_size, reserved => reserved, capture => capture });
    layout!("eg_sim_ops" = EgSimOps { struct_size => struct_size, reserved => reserved, control => control });
    layout!("eg_plugin" = EgPlugin {
        abi_version => abi_version, struct_size => struct_size, name => name, vendor => vendor, version => version,
        device_classes => device_classes, reserved => reserved, discover => discover, open => open, close => close,
        free_bytes => free_bytes, fingerprint => fingerprint, idcard => idcard, camera => camera, sim => sim,
    });
    m
}

fn c_layout() -> BTreeMap<String, usize> {
    let probe = Path::new(env!("OUT_DIR")).join("layout_probe");
    let out = Command::new(&probe).output().unwrap_or_else(|e| panic!("run {}: {e}", probe.display()));
    assert!(out.status.success(), "{} failed: {}", probe.display(), out.status);
    String::from_utf8(out.stdout)
        .expect("ASCII output")
        .lines()
        .map(|line| {
            let (name, value) = line.split_once(' ').unwrap_or_else(|| panic!("bad probe line {line:?}"));
            (name.to_owned(), value.parse().unwrap_or_else(|_| panic!("bad probe line {line:?}")))
        })
        .collect()
}

#[test]
fn rust_mirror_matches_the_c_header_field_for_field() {
    let (rust, c) = (rust_layout(), c_layout());
    let differences: Vec<String> = c
        .keys()
        .chain(rust.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|k| c.get(*k) != rust.get(*k))
        .map(|k| format!("{k}: C {:?}, Rust {:?}", c.get(k), rust.get(k)))
        .collect();
    assert!(differences.is_empty(), "layout differs:\n{}", differences.join("\n"));
    assert_eq!(c["eg_plugin"], size_of::<EgPlugin>());
}
