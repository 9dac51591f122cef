//! Compiles `example.c` into the plugin `libexamgate_c_example.so` and
//! `layout_probe.c` into a program the layout test runs, both into OUT_DIR,
//! with the system C compiler (`$CC`, else `cc`) and the flags a vendor's
//! build should pass: strict C11, every warning an error.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const STRICT: &[&str] = &["-std=c11", "-O2", "-g", "-Wall", "-Wextra", "-Werror", "-pedantic"];

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let include = manifest.join("../../device-sdk/include");

    for input in [manifest.join("example.c"), manifest.join("layout_probe.c"), include.join("examgate_plugin.h")] {
        println!("cargo::rerun-if-changed={}", input.display());
    }
    println!("cargo::rerun-if-env-changed=CC");

    compile(
        &include,
        &manifest.join("example.c"),
        &["-shared", "-fPIC", "-pthread"],
        &out.join("libexamgate_c_example.so"),
    );
    compile(&include, &manifest.join("layout_probe.c"), &[], &out.join("layout_probe"));
}

fn compile(include: &Path, source: &Path, extra: &[&str], output: &Path) {
    let cc = env::var("CC").unwrap_or_default();
    // $CC may carry arguments of its own (`ccache gcc`, `gcc -m64`).
    let mut words = cc.split_whitespace();
    let program = words.next().unwrap_or("cc");
    let mut cmd = Command::new(program);
    cmd.args(words).args(STRICT).arg("-I").arg(include).args(extra).arg("-o").arg(output).arg(source);
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
