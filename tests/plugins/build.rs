//! Compiles `broken.c` once per defect (`-DBROKEN_<KIND>`) into
//! `libbroken_<kind>.so` in OUT_DIR, with the system C compiler (`$CC`,
//! else `cc`) and the same strict flags as a real plugin.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Must list the same kinds as `Broken` in lib.rs (a test there checks).
const KINDS: &[&str] = &[
    "wrong_abi",
    "short_struct",
    "no_entry",
    "null_descriptor",
    "segfault",
    "abort",
    "hang",
    "exit",
    "bad_score",
    "missing_ops",
];

const STRICT: &[&str] =
    &["-std=c11", "-O2", "-g", "-Wall", "-Wextra", "-Werror", "-pedantic", "-shared", "-fPIC", "-pthread"];

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let include = manifest.join("../../device-sdk/include");
    let source = manifest.join("broken.c");
    println!("cargo::rerun-if-changed={}", source.display());
    println!("cargo::rerun-if-changed={}", include.join("examgate_plugin.h").display());
    println!("cargo::rerun-if-env-changed=CC");

    for kind in KINDS {
        let define = format!("-DBROKEN_{}", kind.to_uppercase());
        compile(&include, &source, &define, &out.join(format!("libbroken_{kind}.so")));
    }

    // The stand-in photo decoder, working and crashing.
    let decoder = manifest.join("wlt_decoder.c");
    println!("cargo::rerun-if-changed={}", decoder.display());
    compile(&include, &decoder, "-DWORKING", &out.join("libtest_wlt_decoder.so"));
    compile(&include, &decoder, "-DCRASH", &out.join("libtest_wlt_decoder_crash.so"));
}

fn compile(include: &Path, source: &Path, define: &str, output: &Path) {
    let cc = env::var("CC").unwrap_or_default();
    // $CC may carry arguments of its own (`ccache gcc`).
    let mut words = cc.split_whitespace();
    let program = words.next().unwrap_or("cc");
    let mut cmd = Command::new(program);
    cmd.args(words).args(STRICT).arg(define).arg("-I").arg(include).arg("-o").arg(output).arg(source);
    let result = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run the C compiler `{program}`: {e}; install one (Debian: apt-get install gcc) or set CC")
    });
    if !result.status.success() {
        panic!(
            "compiling {} failed ({}):\n{:?}\n{}",
            source.display(),
            result.status,
            cmd,
            String::from_utf8_lossy(&result.stderr)
        );
    }
}
