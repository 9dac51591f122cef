//! A candidate's paper package: one uncompressed tar of `paper.json` (the
//! items in the candidate's language, choices in the drawn display order) and
//! `media/<sha256>.<ext>`, built once per paper from the bank version the
//! paper names and kept under `<data_dir>/papers/` with its file list, so every
//! download (and every resumed one) is the same bytes the manifest describes.
//!
//! The tar is deterministic (entries in a fixed order, mode 0644, owner 0,
//! time 0): the same paper always gives the same package and SHA-256.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use examgate_protocol::exam::{
    PACKAGE_MEDIA_DIR, PACKAGE_PAPER, PackageFile, PackageInfo, PaperChoice, PaperDoc, PaperItem, PaperMedia, TextDir,
};
use serde::{Deserialize, Serialize};

use super::{BankVersion, Item, ItemKind, Media, Translation};
use crate::crypto::sha256_hex;
use crate::store::{PaperRow, Store, StoreError};

/// The language an item falls back to when it lacks the candidate's.
pub const FALLBACK_LANGUAGE: &str = "zh-CN";

#[derive(Debug, thiserror::Error)]
pub enum PkgError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("paper {paper}: item {item} is not in bank version {version}")]
    MissingItem { paper: String, item: String, version: String },
    #[error("paper {paper}: item {item} has no text in any language")]
    NoText { paper: String, item: String },
    #[error("media file {0} is not in the bank")]
    MissingMedia(String),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PkgError + '_ {
    move |source| PkgError::Io { path: path.display().to_string(), source }
}

/// A built package: where it is and what the manifest says of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Built {
    pub package: PackageInfo,
    pub files: Vec<PackageFile>,
}

impl Built {
    pub fn tar_path(dir: &Path, paper_id: &str) -> PathBuf {
        dir.join(format!("{paper_id}.tar"))
    }
}

/// The item's words: the candidate's language, else zh-CN, else its first.
pub fn pick_translation<'a>(item: &'a Item, language: &str) -> Option<(&'a str, &'a Translation)> {
    item.translations
        .get_key_value(language)
        .or_else(|| item.translations.get_key_value(FALLBACK_LANGUAGE))
        .or_else(|| item.translations.iter().next())
        .map(|(l, t)| (l.as_str(), t))
}

fn kind(k: ItemKind) -> examgate_protocol::exam::ItemKind {
    match k {
        ItemKind::TrueFalse => examgate_protocol::exam::ItemKind::TrueFalse,
        ItemKind::Single => examgate_protocol::exam::ItemKind::Single,
        ItemKind::Multiple => examgate_protocol::exam::ItemKind::Multiple,
    }
}

/// The file name extension of a media file: from its type, else its path.
pub fn media_ext(m: &Media) -> String {
    let by_mime = match m.mime.as_str() {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/gif" => "gif",
        "image/svg+xml" => "svg",
        "image/webp" => "webp",
        "video/mp4" => "mp4",
        "video/webm" => "webm",
        "video/ogg" => "ogv",
        _ => "",
    };
    if !by_mime.is_empty() {
        return by_mime.to_owned();
    }
    let ext = m.path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    if !ext.is_empty() && ext.len() <= 8 && ext.bytes().all(|b| b.is_ascii_alphanumeric()) { ext } else { "bin".into() }
}

/// `paper.json` and the media it names (package path → media), for `paper`.
pub fn paper_doc(paper: &PaperRow, bank: &BankVersion) -> Result<(PaperDoc, BTreeMap<String, Media>), PkgError> {
    let mut media = BTreeMap::new();
    let mut items = Vec::with_capacity(paper.item_count as usize);
    for (n, drawn) in paper.drawn_items()?.iter().enumerate() {
        let item = bank.item(&drawn.id).ok_or_else(|| PkgError::MissingItem {
            paper: paper.paper_id.clone(),
            item: drawn.id.clone(),
            version: bank.version.clone(),
        })?;
        let (language, t) = pick_translation(item, &paper.language)
            .ok_or_else(|| PkgError::NoText { paper: paper.paper_id.clone(), item: item.id.clone() })?;
        let mut shown = Vec::with_capacity(t.media.len());
        for m in &t.media {
            let path = format!("{PACKAGE_MEDIA_DIR}{}.{}", m.sha256, media_ext(m));
            shown.push(PaperMedia { path: path.clone(), mime: m.mime.clone() });
            media.insert(path, m.clone());
        }
        items.push(PaperItem {
            id: item.id.clone(),
            number: u32::try_from(n + 1).unwrap_or(u32::MAX),
            kind: kind(item.kind),
            language: language.to_owned(),
            dir: TextDir::of(language),
            prompt: t.prompt.clone(),
            media: shown,
            choices: drawn
                .choices
                .iter()
                .map(|c| PaperChoice { id: c.clone(), text: t.choices.get(c).cloned().unwrap_or_default() })
                .collect(),
        });
    }
    let doc = PaperDoc {
        paper_id: paper.paper_id.clone(),
        exam: super::runtime::exam_info(paper),
        language: paper.language.clone(),
        dir: TextDir::of(&paper.language),
        items,
    };
    Ok((doc, media))
}

/// The tar of `files` (path, bytes), deterministic.
pub fn tar_of<B: std::ops::Deref<Target = Vec<u8>>>(files: &[(String, B)]) -> Result<Vec<u8>, std::io::Error> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, bytes) in files {
        let bytes: &[u8] = bytes;
        let mut header = tar::Header::new_ustar();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, path, bytes)?;
    }
    builder.into_inner()
}

/// The package of `paper`, built now or found built under `dir`.
pub async fn build(
    store: &dyn Store,
    banks: &super::runtime::Banks,
    paper: &PaperRow,
    bank: &BankVersion,
    dir: &Path,
) -> Result<Built, PkgError> {
    let tar_path = Built::tar_path(dir, &paper.paper_id);
    let list_path = dir.join(format!("{}.json", paper.paper_id));
    if let Ok(text) = std::fs::read(&list_path)
        && let Ok(built) = serde_json::from_slice::<Built>(&text)
        && std::fs::metadata(&tar_path).is_ok_and(|m| m.len() == built.package.size)
    {
        return Ok(built);
    }
    let (doc, media) = paper_doc(paper, bank)?;
    let json = serde_json::to_vec(&doc).map_err(|e| PkgError::Store(StoreError::Invalid(e.to_string())))?;
    let mut files = vec![(PACKAGE_PAPER.to_owned(), Arc::new(json))];
    for (path, m) in &media {
        let bytes = banks.media(store, &m.sha256).await?.ok_or_else(|| PkgError::MissingMedia(m.sha256.clone()))?;
        files.push((path.clone(), bytes));
    }
    let dir = dir.to_path_buf();
    // Hashing, the tar and its fsyncs block: off the runtime.
    tokio::task::spawn_blocking(move || write_package(&dir, &tar_path, &list_path, &files))
        .await
        .map_err(|e| PkgError::Store(StoreError::Invalid(format!("the package builder stopped: {e}"))))?
}

fn write_package(
    dir: &Path,
    tar_path: &Path,
    list_path: &Path,
    files: &[(String, Arc<Vec<u8>>)],
) -> Result<Built, PkgError> {
    let tar = tar_of(files).map_err(io(tar_path))?;
    let built = Built {
        package: PackageInfo { size: tar.len() as u64, sha256: sha256_hex(&tar) },
        files: files
            .iter()
            .map(|(path, bytes)| PackageFile {
                path: path.clone(),
                size: bytes.len() as u64,
                sha256: sha256_hex(bytes),
            })
            .collect(),
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    write_atomically(tar_path, &tar)?;
    let list = serde_json::to_vec(&built).map_err(|e| PkgError::Store(StoreError::Invalid(e.to_string())))?;
    write_atomically(list_path, &list)?;
    Ok(built)
}

/// Written beside, synced, renamed: a reader sees the whole file or none.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), PkgError> {
    let tmp = path.with_extension(format!("tmp-{}-{}", std::process::id(), crate::ids::random_hex(4)));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tar_is_the_same_bytes_every_time_and_reads_back() {
        let files = vec![
            ("paper.json".to_owned(), Box::new(b"{}".to_vec())),
            ("media/ab.png".to_owned(), Box::new(vec![1, 2, 3])),
        ];
        let a = tar_of(&files).unwrap();
        assert_eq!(a, tar_of(&files).unwrap());
        let mut archive = tar::Archive::new(a.as_slice());
        let read: Vec<(String, u64)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.path().unwrap().display().to_string(), e.size())
            })
            .collect();
        assert_eq!(read, vec![("paper.json".to_owned(), 2), ("media/ab.png".to_owned(), 3)]);
    }

    #[test]
    fn media_keep_a_known_extension_or_a_safe_one() {
        let m = |path: &str, mime: &str| Media { path: path.into(), mime: mime.into(), sha256: "x".into(), size: 1 };
        assert_eq!(media_ext(&m("a/b.PNG", "image/png")), "png");
        assert_eq!(media_ext(&m("a/b.Tiff", "image/tiff")), "tiff");
        assert_eq!(media_ext(&m("a/b.../x", "application/x")), "bin");
    }
}
