//! The paper package at the seat: a download kept in a `.part` file that a
//! later attempt resumes (`Range: bytes=N-`), checked as a whole (bytes
//! received against the announced size, then the SHA-256) and unpacked only
//! then, entry by entry against the signed manifest: a path that leaves the
//! directory, an entry that is not a regular file, a file the manifest does
//! not name, one it names but the package lacks, a size or a hash that
//! differs: each refuses the whole package, and nothing of it is kept.
//!
//! Unpacking writes into a fresh sibling directory, syncs it, and renames it
//! into place, so the paper directory is either complete or absent.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::link::hex;

/// One file the manifest names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    pub path: String,
    pub size: u64,
    /// Lower-case hex.
    pub sha256: String,
}

/// What the package as a whole must be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    pub size: u64,
    pub sha256: String,
    pub files: Vec<FileEntry>,
}

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("the package is incomplete: {received} of {size} bytes received")]
    Short { received: u64, size: u64 },
    #[error("the package is longer than announced: {received} bytes received, {size} announced")]
    Long { received: u64, size: u64 },
    #[error("the package's SHA-256 is {got}, the manifest says {expected}")]
    Hash { expected: String, got: String },
    #[error("package entry {0:?} would leave the paper's directory")]
    Escape(String),
    #[error("package entry {path:?} is a {kind}, not a regular file")]
    NotAFile { path: String, kind: String },
    #[error("package entry {0:?} is not in the manifest")]
    NotInManifest(String),
    #[error("package entry {0:?} appears twice")]
    Duplicate(String),
    #[error("the manifest names {0:?} but the package lacks it")]
    Missing(String),
    #[error("package entry {path:?} is {got} bytes, the manifest says {expected}")]
    FileSize { path: String, expected: u64, got: u64 },
    #[error("package entry {path:?} has SHA-256 {got}, the manifest says {expected}")]
    FileHash { path: String, expected: String, got: String },
    #[error("the package is not a readable tar: {0}")]
    Tar(String),
}

impl PackageError {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PackageError + '_ {
        move |source| PackageError::Io { path: path.to_owned(), source }
    }

    /// Whether downloading the rest may mend it (the package is only short).
    pub fn is_short(&self) -> bool {
        matches!(self, PackageError::Short { .. })
    }
}

/// A manifest path as a safe relative path: normal components only.
pub fn safe_relative(path: &str) -> Option<PathBuf> {
    let p = Path::new(path);
    if path.is_empty() || path.contains('\0') || path.contains('\\') {
        return None;
    }
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// The `.part` file of a download.
#[derive(Debug)]
pub struct Partial {
    path: PathBuf,
}

impl Partial {
    pub fn new(path: PathBuf) -> Partial {
        Partial { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where to resume: the bytes already here, or 0 (and the file emptied)
    /// when it holds more than the package can be.
    pub fn resume_at(&self, size: u64) -> Result<u64, PackageError> {
        let have = match fs::metadata(&self.path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(PackageError::Io { path: self.path.clone(), source: e }),
        };
        if have > size {
            self.discard()?;
            return Ok(0);
        }
        Ok(have)
    }

    /// Opens the file to append what arrives from `offset` on (truncating anything past it).
    pub fn append_from(&self, offset: u64) -> Result<File, PackageError> {
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir).map_err(PackageError::io(dir))?;
        }
        let f = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(&self.path)
            .map_err(PackageError::io(&self.path))?;
        f.set_len(offset).map_err(PackageError::io(&self.path))?;
        let mut f = f;
        use std::io::Seek;
        f.seek(std::io::SeekFrom::Start(offset)).map_err(PackageError::io(&self.path))?;
        Ok(f)
    }

    pub fn discard(&self) -> Result<(), PackageError> {
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(PackageError::Io { path: self.path.clone(), source: e }),
        }
    }

    /// The whole download checked: size first (short may be resumed), then the SHA-256.
    pub fn check(&self, expected: &Expected) -> Result<(), PackageError> {
        let received = fs::metadata(&self.path).map_err(PackageError::io(&self.path))?.len();
        if received < expected.size {
            return Err(PackageError::Short { received, size: expected.size });
        }
        if received > expected.size {
            return Err(PackageError::Long { received, size: expected.size });
        }
        let got = sha256_file(&self.path)?;
        if !got.eq_ignore_ascii_case(&expected.sha256) {
            return Err(PackageError::Hash { expected: expected.sha256.clone(), got });
        }
        Ok(())
    }
}

fn sha256_file(path: &Path) -> Result<String, PackageError> {
    let mut f = File::open(path).map_err(PackageError::io(path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = f.read(&mut buf).map_err(PackageError::io(path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

fn kind_name(t: tar::EntryType) -> String {
    match t {
        tar::EntryType::Symlink => "symbolic link".into(),
        tar::EntryType::Link => "hard link".into(),
        tar::EntryType::Directory => "directory".into(),
        tar::EntryType::Char | tar::EntryType::Block => "device".into(),
        tar::EntryType::Fifo => "fifo".into(),
        other => format!("{other:?}"),
    }
}

/// Unpacks a checked package into `dest` (which must not exist yet), every
/// entry held to the manifest. On any refusal nothing is left behind.
pub fn unpack(tar_path: &Path, expected: &Expected, dest: &Path) -> Result<(), PackageError> {
    let parent = dest.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(PackageError::io(parent))?;
    let staging = parent
        .join(format!(".{}.unpacking", dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()));
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging).map_err(PackageError::io(&staging))?;
    let result = unpack_into(tar_path, expected, &staging);
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&staging);
        return Err(e);
    }
    let _ = fs::remove_dir_all(dest);
    fs::rename(&staging, dest).map_err(PackageError::io(dest))?;
    if let Ok(d) = File::open(parent) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn unpack_into(tar_path: &Path, expected: &Expected, staging: &Path) -> Result<(), PackageError> {
    let mut wanted: BTreeMap<PathBuf, &FileEntry> = BTreeMap::new();
    for f in &expected.files {
        let rel = safe_relative(&f.path).ok_or_else(|| PackageError::Escape(f.path.clone()))?;
        wanted.insert(rel, f);
    }
    let file = File::open(tar_path).map_err(PackageError::io(tar_path))?;
    let mut archive = tar::Archive::new(file);
    let tar = |e: std::io::Error| PackageError::Tar(e.to_string());
    let mut seen: BTreeMap<PathBuf, ()> = BTreeMap::new();
    for entry in archive.entries().map_err(tar)? {
        let mut entry = entry.map_err(tar)?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let rel = safe_relative(&raw).ok_or_else(|| PackageError::Escape(raw.clone()))?;
        let kind = entry.header().entry_type();
        if kind.is_dir() && !wanted.contains_key(&rel) {
            // A directory entry for a directory the files live in is harmless; it makes nothing.
            if wanted.keys().any(|w| w.starts_with(&rel)) {
                continue;
            }
        }
        if !matches!(kind, tar::EntryType::Regular | tar::EntryType::Continuous) {
            return Err(PackageError::NotAFile { path: raw, kind: kind_name(kind) });
        }
        let Some(want) = wanted.get(&rel) else { return Err(PackageError::NotInManifest(raw)) };
        if seen.insert(rel.clone(), ()).is_some() {
            return Err(PackageError::Duplicate(raw));
        }
        let declared = entry.header().size().map_err(tar)?;
        if declared != want.size {
            return Err(PackageError::FileSize { path: raw, expected: want.size, got: declared });
        }
        let out_path = staging.join(&rel);
        if let Some(dir) = out_path.parent() {
            fs::create_dir_all(dir).map_err(PackageError::io(dir))?;
        }
        let mut out =
            OpenOptions::new().write(true).create_new(true).open(&out_path).map_err(PackageError::io(&out_path))?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 64 << 10];
        let mut got = 0u64;
        loop {
            let n = entry.read(&mut buf).map_err(tar)?;
            if n == 0 {
                break;
            }
            got += n as u64;
            h.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(PackageError::io(&out_path))?;
        }
        if got != want.size {
            return Err(PackageError::FileSize { path: raw, expected: want.size, got });
        }
        let sha = hex(&h.finalize());
        if !sha.eq_ignore_ascii_case(&want.sha256) {
            return Err(PackageError::FileHash { path: raw, expected: want.sha256.clone(), got: sha });
        }
        out.sync_all().map_err(PackageError::io(&out_path))?;
    }
    if let Some(missing) = wanted.iter().find(|(rel, _)| !seen.contains_key(*rel)) {
        return Err(PackageError::Missing(missing.1.path.clone()));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod testing {
    //! Packages built in tests, good and bad, byte by byte where `tar::Builder` would refuse.
    use super::*;

    pub fn sha(bytes: &[u8]) -> String {
        hex(&Sha256::digest(bytes))
    }

    /// A tar of `files` and the manifest entries that describe it.
    pub fn package(files: &[(&str, &[u8])]) -> (Vec<u8>, Expected) {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, path, *data).unwrap();
        }
        let bytes = b.into_inner().unwrap();
        let files = files
            .iter()
            .map(|(p, d)| FileEntry { path: (*p).to_owned(), size: d.len() as u64, sha256: sha(d) })
            .collect();
        let expected = Expected { size: bytes.len() as u64, sha256: sha(&bytes), files };
        (bytes, expected)
    }

    /// A tar with one raw entry whose name and type are written as given.
    pub fn raw_entry(name: &str, kind: tar::EntryType, link: Option<&str>, data: &[u8]) -> Vec<u8> {
        let mut h = tar::Header::new_old();
        {
            let old = h.as_old_mut();
            old.name[..name.len()].copy_from_slice(name.as_bytes());
            if let Some(l) = link {
                old.linkname[..l.len()].copy_from_slice(l.as_bytes());
            }
        }
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(kind);
        h.set_cksum();
        let mut out = h.as_bytes().to_vec();
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
        out.extend_from_slice(&[0u8; 1024]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    const PAPER: &[u8] = br#"{"paper_id":"p1","items":[]}"#;
    const SIGN: &[u8] = b"\x89PNG road sign";

    fn write(dir: &Path, bytes: &[u8]) -> Partial {
        let part = Partial::new(dir.join("package.tar.part"));
        part.append_from(0).unwrap().write_all(bytes).unwrap();
        part
    }

    fn checked_unpack(dir: &Path, bytes: &[u8], expected: &Expected) -> Result<(), PackageError> {
        let part = write(dir, bytes);
        part.check(expected)?;
        unpack(part.path(), expected, &dir.join("paper"))
    }

    #[test]
    fn a_good_package_unpacks_every_file_it_names() {
        let dir = tempfile::tempdir().unwrap();
        let (bytes, expected) = package(&[("paper.json", PAPER), ("media/ab.png", SIGN)]);
        checked_unpack(dir.path(), &bytes, &expected).unwrap();
        assert_eq!(fs::read(dir.path().join("paper/paper.json")).unwrap(), PAPER);
        assert_eq!(fs::read(dir.path().join("paper/media/ab.png")).unwrap(), SIGN);
    }

    #[test]
    fn a_short_package_is_resumed_and_a_long_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (bytes, expected) = package(&[("paper.json", PAPER)]);
        let part = write(dir.path(), &bytes[..700]);
        let e = part.check(&expected).unwrap_err();
        assert!(e.is_short(), "{e}");
        // Resume from where the file ends: the rest arrives, and it checks out.
        let at = part.resume_at(expected.size).unwrap();
        assert_eq!(at, 700);
        part.append_from(at).unwrap().write_all(&bytes[700..]).unwrap();
        part.check(&expected).unwrap();

        let mut long = bytes.clone();
        long.extend_from_slice(b"junk");
        let part = write(dir.path(), &long);
        assert!(matches!(part.check(&expected), Err(PackageError::Long { .. })));
        assert_eq!(part.resume_at(expected.size).unwrap(), 0, "a file longer than the package starts over");
        assert!(!part.path().exists());
    }

    #[test]
    fn a_package_with_the_wrong_hash_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (mut bytes, expected) = package(&[("paper.json", PAPER)]);
        bytes[600] ^= 1;
        let e = checked_unpack(dir.path(), &bytes, &expected).unwrap_err();
        assert!(matches!(e, PackageError::Hash { .. }), "{e}");
        assert!(!dir.path().join("paper").exists());
    }

    /// Unpacks `bytes` as if its manifest were right about the whole (size and hash) but
    /// listed only `files`: the entry checks alone must refuse it.
    fn refused(bytes: Vec<u8>, files: Vec<FileEntry>) -> PackageError {
        let dir = tempfile::tempdir().unwrap();
        let expected = Expected { size: bytes.len() as u64, sha256: sha(&bytes), files };
        let e = checked_unpack(dir.path(), &bytes, &expected).unwrap_err();
        assert!(!dir.path().join("paper").exists(), "nothing is unpacked: {e}");
        assert!(
            fs::read_dir(dir.path()).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().contains("unpacking"))
        );
        e
    }

    fn entry(path: &str, data: &[u8]) -> FileEntry {
        FileEntry { path: path.into(), size: data.len() as u64, sha256: sha(data) }
    }

    #[test]
    fn entries_that_leave_the_directory_are_refused() {
        for name in ["../evil.json", "/etc/evil.json", "media/../../evil.json"] {
            let e = refused(raw_entry(name, tar::EntryType::Regular, None, PAPER), vec![entry("paper.json", PAPER)]);
            assert!(matches!(&e, PackageError::Escape(p) if p == name), "{name}: {e}");
        }
    }

    #[test]
    fn links_and_other_non_files_are_refused() {
        for kind in [tar::EntryType::Symlink, tar::EntryType::Link, tar::EntryType::Fifo] {
            let bytes = raw_entry("paper.json", kind, Some("/etc/passwd"), b"");
            let e = refused(bytes, vec![entry("paper.json", PAPER)]);
            assert!(matches!(e, PackageError::NotAFile { .. }), "{kind:?}: {e}");
        }
    }

    #[test]
    fn files_the_manifest_does_not_name_or_lacks_are_refused() {
        let (bytes, _) = package(&[("paper.json", PAPER), ("media/extra.png", SIGN)]);
        let e = refused(bytes, vec![entry("paper.json", PAPER)]);
        assert!(matches!(&e, PackageError::NotInManifest(p) if p == "media/extra.png"), "{e}");
        let (bytes, _) = package(&[("paper.json", PAPER)]);
        let e = refused(bytes, vec![entry("paper.json", PAPER), entry("media/ab.png", SIGN)]);
        assert!(matches!(&e, PackageError::Missing(p) if p == "media/ab.png"), "{e}");
        let (bytes, _) = package(&[("paper.json", PAPER), ("paper.json", PAPER)]);
        assert!(matches!(refused(bytes, vec![entry("paper.json", PAPER)]), PackageError::Duplicate(_)));
    }

    #[test]
    fn a_file_whose_size_or_hash_differs_from_the_manifest_is_refused() {
        let (bytes, _) = package(&[("paper.json", PAPER)]);
        let mut wrong_size = entry("paper.json", PAPER);
        wrong_size.size += 1;
        assert!(matches!(refused(bytes.clone(), vec![wrong_size]), PackageError::FileSize { .. }));
        let mut wrong_hash = entry("paper.json", PAPER);
        wrong_hash.sha256 = sha(b"another paper");
        assert!(matches!(refused(bytes, vec![wrong_hash]), PackageError::FileHash { .. }));
    }

    #[test]
    fn manifest_paths_must_be_plain_relative_paths() {
        assert_eq!(safe_relative("media/a.png"), Some(PathBuf::from("media/a.png")));
        assert_eq!(safe_relative("./paper.json"), Some(PathBuf::from("paper.json")));
        for bad in ["", "..", "a/../../b", "/abs", "a\\b", "."] {
            assert_eq!(safe_relative(bad), None, "{bad:?}");
        }
    }
}
