//! Snapshot files, named by the SHA-256 of their bytes
//! (`snapshots/ab/abcdef….jpg`). Written to a temporary name, synced, then
//! renamed, so a file under its final name is always whole; writing the
//! same picture twice leaves one file.

use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct SnapshotFiles {
    root: PathBuf,
}

impl SnapshotFiles {
    pub fn new(root: impl Into<PathBuf>) -> SnapshotFiles {
        SnapshotFiles { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the file with this hash lives (`sha256` must be 64 hex digits).
    pub fn path(&self, sha256: &str) -> PathBuf {
        self.root.join(&sha256[..2]).join(format!("{sha256}.jpg"))
    }

    /// Stores `bytes` whose SHA-256 the caller checked to be `sha256`.
    pub fn put(&self, sha256: &str, bytes: &[u8]) -> std::io::Result<()> {
        let path = self.path(sha256);
        if path.exists() {
            return Ok(());
        }
        let dir = path.parent().expect("a snapshot path has a directory");
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(".{sha256}.{}.tmp", crate::ids::random_hex(4)));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(dir)?.sync_all()
    }

    pub fn get(&self, sha256: &str) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.path(sha256))
    }

    /// Every stored file's hash, for backups.
    pub fn list(&self) -> std::io::Result<Vec<String>> {
        let mut out = Vec::new();
        let Ok(dirs) = std::fs::read_dir(&self.root) else { return Ok(out) };
        for dir in dirs {
            let dir = dir?;
            if !dir.file_type()?.is_dir() {
                continue;
            }
            for f in std::fs::read_dir(dir.path())? {
                let name = f?.file_name().to_string_lossy().into_owned();
                if let Some(h) = name.strip_suffix(".jpg").filter(|h| is_sha256_hex(h)) {
                    out.push(h.to_owned());
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
