//! Reading a question bank package safely: a `.zip` or a directory, each
//! file's path checked to stay inside the package, and the whole held to a
//! size limit (`[bank] max_package_mb`) before and while it is read.
//!
//! Refused, with the path: an absolute path, a `..` component, a backslash or
//! drive letter, a symbolic link (a zip entry marked as one, or a link in a
//! directory), two entries with one name, and a package (its zip file, or
//! what it unpacks to) over the limit. Nothing is ever written to disk here:
//! the files are read into memory.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Component, Path};

use sha2::{Digest, Sha256};

use crate::audit::hex;

/// The files of a package, by their path inside it (`/`-separated, no `./`).
#[derive(Clone, Debug, Default)]
pub struct Package {
    /// The file or directory name it was read from, for messages and the audit.
    pub name: String,
    /// SHA-256 of the zip file, or of the directory's files (path, NUL, bytes hash, newline; sorted).
    pub sha256: String,
    pub files: BTreeMap<String, Vec<u8>>,
}

/// Why a package was refused as a whole.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("{name}: the package is {size} bytes, over the limit of {limit} bytes ([bank] max_package_mb = {mb})", mb = .limit >> 20)]
    TooLarge { name: String, size: u64, limit: u64 },
    #[error("{name}: {path:?} leaves the package ({why}); refused")]
    Escapes { name: String, path: String, why: &'static str },
    #[error("{name}: {path:?} is a symbolic link; links are refused")]
    Link { name: String, path: String },
    #[error("{name}: {path:?} appears twice")]
    Duplicate { name: String, path: String },
    #[error("{name}: not a zip file or a directory ({0})", .reason)]
    NotAPackage { name: String, reason: String },
    #[error("{name}: {path}: {source}")]
    Io { name: String, path: String, source: std::io::Error },
}

/// Checks one path inside a package and gives it in its plain form (`a/b.xml`).
pub fn safe_path(raw: &str) -> Result<String, &'static str> {
    if raw.is_empty() {
        return Err("empty path");
    }
    if raw.contains('\\') {
        return Err("a backslash");
    }
    if raw.starts_with('/') {
        return Err("an absolute path");
    }
    if raw.len() >= 2 && raw.as_bytes()[1] == b':' {
        return Err("a drive letter");
    }
    if raw.contains('\0') {
        return Err("a NUL byte");
    }
    let mut parts = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("a .. component"),
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err("empty path");
    }
    Ok(parts.join("/"))
}

/// Resolves `href` (a relative reference, maybe with `../`) against the
/// directory of the package file `from`; `None` if it leaves the package or
/// is not a relative path inside it (a URL, an absolute path).
pub fn resolve(from: &str, href: &str) -> Option<String> {
    let href = href.split(['#', '?']).next().unwrap_or(href);
    let href = percent_decode(href)?;
    if href.contains("://") || href.starts_with('/') || href.contains('\\') || href.starts_with("data:") {
        return None;
    }
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for part in href.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() { None } else { Some(parts.join("/")) }
}

fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_owned());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl Package {
    /// Reads a `.zip` file or a directory.
    pub fn open(path: &Path, limit: u64) -> Result<Package, PackageError> {
        let name =
            path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string());
        let meta = std::fs::symlink_metadata(path).map_err(|source| PackageError::Io {
            name: name.clone(),
            path: path.display().to_string(),
            source,
        })?;
        if meta.is_dir() {
            Package::from_dir(path, &name, limit)
        } else if meta.is_file() {
            if meta.len() > limit {
                return Err(PackageError::TooLarge { name, size: meta.len(), limit });
            }
            let bytes = std::fs::read(path).map_err(|source| PackageError::Io {
                name: name.clone(),
                path: path.display().to_string(),
                source,
            })?;
            Package::from_zip(&name, &bytes, limit)
        } else {
            Err(PackageError::NotAPackage { name, reason: "a link or a special file".into() })
        }
    }

    /// Reads a zip file's bytes.
    pub fn from_zip(name: &str, bytes: &[u8], limit: u64) -> Result<Package, PackageError> {
        let name = name.to_owned();
        if bytes.len() as u64 > limit {
            return Err(PackageError::TooLarge { name, size: bytes.len() as u64, limit });
        }
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
            .map_err(|e| PackageError::NotAPackage { name: name.clone(), reason: e.to_string() })?;
        let mut files = BTreeMap::new();
        let mut total: u64 = 0;
        for i in 0..archive.len() {
            let mut entry = archive
                .by_index(i)
                .map_err(|e| PackageError::NotAPackage { name: name.clone(), reason: e.to_string() })?;
            let raw = entry
                .name()
                .map_err(|e| PackageError::NotAPackage { name: name.clone(), reason: e.to_string() })?
                .into_owned();
            let path =
                safe_path(&raw).map_err(|why| PackageError::Escapes { name: name.clone(), path: raw.clone(), why })?;
            // The zip crate's own check agrees (it would refuse the same escapes).
            if entry.enclosed_name().is_none() {
                return Err(PackageError::Escapes { name, path: raw, why: "not enclosed" });
            }
            if entry.is_symlink() {
                return Err(PackageError::Link { name, path: raw });
            }
            if entry.is_dir() {
                continue;
            }
            // The size a zip entry announces is not trusted: read at most what is left.
            let left = limit.saturating_sub(total);
            let mut data = Vec::new();
            entry.by_ref().take(left + 1).read_to_end(&mut data).map_err(|source| PackageError::Io {
                name: name.clone(),
                path: raw.clone(),
                source,
            })?;
            total += data.len() as u64;
            if total > limit {
                return Err(PackageError::TooLarge { name, size: total.max(entry.size()), limit });
            }
            if files.insert(path.clone(), data).is_some() {
                return Err(PackageError::Duplicate { name, path });
            }
        }
        Ok(Package { name, sha256: hex(&Sha256::digest(bytes)), files })
    }

    /// Reads a directory holding an unpacked package (links refused).
    pub fn from_dir(root: &Path, name: &str, limit: u64) -> Result<Package, PackageError> {
        let name = name.to_owned();
        let mut files = BTreeMap::new();
        let mut total: u64 = 0;
        let mut pending = vec![root.to_path_buf()];
        while let Some(dir) = pending.pop() {
            let io = |source, p: &Path| PackageError::Io { name: name.clone(), path: p.display().to_string(), source };
            let entries = std::fs::read_dir(&dir).map_err(|e| io(e, &dir))?;
            for entry in entries {
                let entry = entry.map_err(|e| io(e, &dir))?;
                let path = entry.path();
                let rel = relative(root, &path);
                let meta = std::fs::symlink_metadata(&path).map_err(|e| io(e, &path))?;
                if meta.file_type().is_symlink() {
                    return Err(PackageError::Link { name, path: rel });
                }
                if meta.is_dir() {
                    pending.push(path);
                    continue;
                }
                if !meta.is_file() {
                    return Err(PackageError::NotAPackage { name, reason: format!("{rel} is a special file") });
                }
                total += meta.len();
                if total > limit {
                    return Err(PackageError::TooLarge { name, size: total, limit });
                }
                let data = std::fs::read(&path).map_err(|e| io(e, &path))?;
                let rel = safe_path(&rel).map_err(|why| PackageError::Escapes {
                    name: name.clone(),
                    path: rel.clone(),
                    why,
                })?;
                files.insert(rel, data);
            }
        }
        let mut hasher = Sha256::new();
        for (path, data) in &files {
            hasher.update(path.as_bytes());
            hasher.update([0]);
            hasher.update(hex(&Sha256::digest(data)).as_bytes());
            hasher.update(b"\n");
        }
        Ok(Package { name, sha256: hex(&hasher.finalize()), files })
    }

    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }
}

fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default();
        for (name, data) in entries {
            w.start_file(*name, opts).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn paths_that_leave_the_package_are_refused() {
        for bad in ["../etc/passwd", "a/../../b", "/etc/passwd", "C:/x", "a\\b", ""] {
            assert!(safe_path(bad).is_err(), "{bad:?}");
        }
        assert_eq!(safe_path("./items//a.xml").unwrap(), "items/a.xml");
        assert_eq!(resolve("items/a.xml", "../images/x.png").as_deref(), Some("images/x.png"));
        assert_eq!(resolve("items/a.xml", "../../x.png"), None);
        assert_eq!(resolve("a.xml", "http://example.com/x.png"), None);
        assert_eq!(resolve("a.xml", "/etc/passwd"), None);
        assert_eq!(resolve("a.xml", "img%20one.png").as_deref(), Some("img one.png"));
    }

    #[test]
    fn a_zip_slip_entry_is_refused_with_its_path() {
        let bytes = zip_of(&[("imsmanifest.xml", b"<manifest/>"), ("../evil.sh", b"x")]);
        let err = Package::from_zip("p.zip", &bytes, 1 << 20).unwrap_err();
        assert!(matches!(&err, PackageError::Escapes { path, .. } if path == "../evil.sh"), "{err}");
        let bytes = zip_of(&[("/abs.xml", b"x")]);
        assert!(matches!(Package::from_zip("p.zip", &bytes, 1 << 20), Err(PackageError::Escapes { .. })));
    }

    #[test]
    fn a_symlink_entry_is_refused() {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        w.add_symlink("link", "/etc/passwd", zip::write::SimpleFileOptions::default()).unwrap();
        let bytes = w.finish().unwrap().into_inner();
        assert!(matches!(Package::from_zip("p.zip", &bytes, 1 << 20), Err(PackageError::Link { .. })));
    }

    #[test]
    fn a_package_over_the_limit_is_refused_naming_the_limit() {
        let big = vec![0u8; 3 << 20];
        // Compresses to almost nothing: the unpacked size is what counts.
        let bytes = zip_of(&[("a.bin", &big)]);
        let err = Package::from_zip("p.zip", &bytes, 2 << 20).unwrap_err();
        assert!(matches!(err, PackageError::TooLarge { limit, .. } if limit == 2 << 20));
        assert!(err.to_string().contains("max_package_mb = 2"), "{err}");
    }

    #[test]
    fn a_directory_with_a_link_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("imsmanifest.xml"), "<manifest/>").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("passwd")).unwrap();
        let err = Package::from_dir(dir.path(), "dir", 1 << 20).unwrap_err();
        assert!(matches!(&err, PackageError::Link { path, .. } if path == "passwd"), "{err}");
    }

    #[test]
    fn a_zip_and_its_unpacked_directory_hold_the_same_files() {
        let bytes = zip_of(&[("imsmanifest.xml", b"<manifest/>"), ("items/a.xml", b"<a/>")]);
        let zipped = Package::from_zip("p.zip", &bytes, 1 << 20).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("items")).unwrap();
        std::fs::write(dir.path().join("imsmanifest.xml"), "<manifest/>").unwrap();
        std::fs::write(dir.path().join("items/a.xml"), "<a/>").unwrap();
        let unpacked = Package::from_dir(dir.path(), "dir", 1 << 20).unwrap();
        assert_eq!(zipped.files, unpacked.files);
    }
}
