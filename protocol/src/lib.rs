//! Wire types of examgate (agent REST API, events). Knows no device.

pub mod idcard;
