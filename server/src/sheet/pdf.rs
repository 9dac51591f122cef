//! The score sheet as a PDF (A4, one page) with `krilla`, and reading one back
//! with `lopdf` for `sheet verify`.
//!
//! Text is set with Debian's Noto fonts, embedded as subsets: Noto Sans for
//! Latin, Noto Sans CJK SC for Han, kana and Hangul, Noto Naskh Arabic for the
//! Arabic script (Uyghur, Kazakh), Noto Sans Mongolian for Mongolian. The
//! candidate's name is cut into runs of one script and each run is set in its
//! font (Arabic runs right to left). Mongolian is set horizontally on the
//! sheet (the font's horizontal forms, read left to right), not in vertical
//! columns as on the seat's screen. Pictures are embedded as JPEG (DCTDecode)
//! exactly as given, so the SHA-256 of an image stream is the picture's.
//! The QR code is drawn as filled squares (vector, no image), and its text is
//! also the document's Keywords, so `sheet verify` reads it without decoding
//! an image.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use examgate_protocol::Timestamp;
use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect, Size, Transform};
use krilla::image::Image;
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::Fill;
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use sha2::{Digest, Sha256};

use super::check::with_check;
use super::qr::{self, Facts};

/// A4 in points.
const PAGE: (f32, f32) = (595.28, 841.89);
const MARGIN: f32 = 42.0;

/// Where Debian keeps the fonts (`fonts-noto-core`, `fonts-noto-cjk`).
pub const FONT_DIR_TRUETYPE: &str = "/usr/share/fonts/truetype/noto";
pub const FONT_DIR_OPENTYPE: &str = "/usr/share/fonts/opentype/noto";

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("cannot read the font {path}: {source} (install fonts-noto-core and fonts-noto-cjk)")]
    FontFile { path: String, source: std::io::Error },
    #[error("the font {0} is not a font krilla can use")]
    Font(String),
    #[error("picture {0} is not a JPEG krilla can embed: {1}")]
    Picture(String, String),
    #[error("cannot write the PDF: {0}")]
    Write(String),
    #[error("cannot read the PDF: {0}")]
    Read(String),
    #[error(transparent)]
    Code(#[from] qr::CodeError),
}

/// The fonts a sheet is set in.
#[derive(Clone)]
pub struct Fonts {
    latin: Font,
    cjk: Font,
    arabic: Font,
    mongolian: Font,
}

fn load(path: PathBuf, index: u32) -> Result<Font, PdfError> {
    let data =
        std::fs::read(&path).map_err(|source| PdfError::FontFile { path: path.display().to_string(), source })?;
    Font::new(Arc::new(data).into(), index).ok_or_else(|| PdfError::Font(path.display().to_string()))
}

impl Fonts {
    /// Debian's Noto fonts.
    pub fn debian() -> Result<Fonts, PdfError> {
        Fonts::from_dirs(Path::new(FONT_DIR_TRUETYPE), Path::new(FONT_DIR_OPENTYPE))
    }

    pub fn from_dirs(truetype: &Path, opentype: &Path) -> Result<Fonts, PdfError> {
        Ok(Fonts {
            latin: load(truetype.join("NotoSans-Regular.ttf"), 0)?,
            // Index 2 of the collection is Noto Sans CJK SC.
            cjk: load(opentype.join("NotoSansCJK-Regular.ttc"), 2)?,
            arabic: load(truetype.join("NotoNaskhArabic-Regular.ttf"), 0)?,
            mongolian: load(truetype.join("NotoSansMongolian-Regular.ttf"), 0)?,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Script {
    Latin,
    Cjk,
    Arabic,
    Mongolian,
}

fn script_of(c: char) -> Option<Script> {
    let u = c as u32;
    match u {
        0x0600..=0x06FF | 0x0750..=0x077F | 0x08A0..=0x08FF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF => Some(Script::Arabic),
        0x1800..=0x18AF | 0x11660..=0x1167F => Some(Script::Mongolian),
        0x1100..=0x11FF
        | 0x2E80..=0x2FFF
        | 0x3000..=0x30FF
        | 0x3100..=0x31FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xAC00..=0xD7AF
        | 0xF900..=0xFAFF
        | 0xFF00..=0xFFEF
        | 0x20000..=0x3FFFF => Some(Script::Cjk),
        // Spaces, punctuation and marks join the run they are in.
        _ if c.is_whitespace() || c.is_ascii_punctuation() || (0x200B..=0x206F).contains(&u) => None,
        _ => Some(Script::Latin),
    }
}

/// The text cut into runs of one script (neutral characters join the run before them).
fn runs(text: &str) -> Vec<(Script, String)> {
    let mut out: Vec<(Script, String)> = Vec::new();
    for c in text.chars() {
        let script = script_of(c);
        match (out.last_mut(), script) {
            (Some((s, run)), Some(new)) if *s == new => run.push(c),
            (Some((_, run)), None) => run.push(c),
            (_, Some(new)) => out.push((new, c.to_string())),
            (None, None) => out.push((Script::Latin, c.to_string())),
        }
    }
    out
}

/// A picture on the sheet: a caption and the JPEG bytes as embedded.
#[derive(Clone, Debug)]
pub struct Picture {
    pub caption: String,
    pub jpeg: Vec<u8>,
}

impl Picture {
    pub fn sha256(&self) -> String {
        hex(&Sha256::digest(&self.jpeg))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A time as printed on the sheet (UTC, RFC 3339).
pub fn time(ms: i64) -> String {
    Timestamp::from_unix_millis(ms).to_string()
}

/// The printed lines of the sheet that state a signed field, by field name.
/// `sheet verify` looks for each in the page's text.
pub fn printed(facts: &Facts) -> Vec<(&'static str, String)> {
    let result = match facts.passed {
        Some(true) => "PASS",
        Some(false) => "FAIL",
        None => "no pass mark",
    };
    let submission = match facts.reason.as_str() {
        "candidate" => "by the candidate".to_owned(),
        "timeout" => "at the end of time".to_owned(),
        "forced" => "FORCED by the examiner".to_owned(),
        other => other.to_owned(),
    };
    let extended =
        if facts.extended_minutes == 0 { "none".to_owned() } else { format!("{} min", facts.extended_minutes) };
    vec![
        ("centre", format!("Centre: {}", facts.centre)),
        ("session", format!("Session: {}", facts.session)),
        ("seat", format!("Seat: {}", facts.seat)),
        ("exam", format!("Exam: {}", facts.exam)),
        ("exam_name", format!("Exam name: {}", facts.exam_name)),
        ("booking", format!("Booking number: {}", with_check(&facts.booking))),
        ("id_number", format!("ID number: {}", with_check(&facts.id_number))),
        ("started_at", format!("Started: {}", time(facts.started_at))),
        ("submitted_at", format!("Submitted: {}", time(facts.submitted_at))),
        ("score", format!("Score: {}", with_check(&facts.score.to_string()))),
        ("max_score", format!("Out of: {}", facts.max_score)),
        ("passed", format!("Result: {result}")),
        ("reason", format!("Submission: {submission}")),
        ("extended_minutes", format!("Extended: {extended}")),
        ("warnings", format!("Warnings: {}", facts.warnings)),
        ("paper_sha256", format!("Paper SHA-256: {}", facts.paper_sha256)),
    ]
}

fn fill(surface: &mut Surface<'_>, gray: u8) {
    surface.set_fill(Some(Fill { paint: rgb::Color::new(gray, gray, gray).into(), ..Default::default() }));
}

fn text(surface: &mut Surface<'_>, font: &Font, size: f32, x: f32, y: f32, s: &str) {
    surface.draw_text(Point::from_xy(x, y), font.clone(), size, s, false, TextDirection::Auto);
}

/// The name, each script run in its font. Runs after the first are placed by
/// an estimate of the previous run's width (names rarely mix scripts).
fn name(surface: &mut Surface<'_>, fonts: &Fonts, size: f32, x: f32, y: f32, name: &str) {
    let mut x = x;
    for (script, run) in runs(name) {
        let (font, direction, em) = match script {
            Script::Latin => (&fonts.latin, TextDirection::LeftToRight, 0.55),
            Script::Cjk => (&fonts.cjk, TextDirection::LeftToRight, 1.0),
            Script::Arabic => (&fonts.arabic, TextDirection::RightToLeft, 0.5),
            Script::Mongolian => (&fonts.mongolian, TextDirection::LeftToRight, 0.6),
        };
        surface.draw_text(Point::from_xy(x, y), font.clone(), size, &run, false, direction);
        x += em * size * run.chars().count() as f32;
    }
}

/// Makes the sheet: `facts` are printed, `code` (the signed text) is drawn as
/// a QR code and kept as the Keywords; `pictures` are placed in order. A
/// genuine sheet passes the facts that `code` signs.
pub fn render(facts: &Facts, code: &str, pictures: &[Picture], fonts: &Fonts) -> Result<Vec<u8>, PdfError> {
    let mut document = Document::new();
    document.set_metadata(
        Metadata::new()
            .title(format!("Score sheet {}", facts.booking))
            .creator("examgate-server".to_owned())
            .keywords(vec![code.to_owned()]),
    );
    let settings = PageSettings::from_wh(PAGE.0, PAGE.1).ok_or_else(|| PdfError::Write("page size".into()))?;
    let mut page = document.start_page_with(settings);
    let mut surface = page.surface();
    fill(&mut surface, 0);
    text(&mut surface, &fonts.latin, 18.0, MARGIN, MARGIN + 10.0, "Score sheet");
    fill(&mut surface, 90);
    text(
        &mut surface,
        &fonts.latin,
        8.0,
        MARGIN,
        MARGIN + 24.0,
        "Check characters in [ ] are ISO 7064 MOD 11-2. Verify the code with: examgate-server sheet verify",
    );

    // The candidate's name, large, in its own script.
    fill(&mut surface, 0);
    text(&mut surface, &fonts.latin, 10.0, MARGIN, MARGIN + 50.0, "Name:");
    name(&mut surface, fonts, 20.0, MARGIN + 40.0, MARGIN + 52.0, &facts.name);

    let mut y = MARGIN + 78.0;
    for (field, line) in printed(facts) {
        let size = if field == "paper_sha256" { 7.5 } else { 10.5 };
        let strong = matches!(field, "score" | "passed" | "reason");
        fill(&mut surface, if strong { 0 } else { 40 });
        text(&mut surface, &fonts.latin, size, MARGIN, y, &line);
        y += if field == "paper_sha256" { 13.0 } else { 15.5 };
    }

    // The QR code at the top right, as squares.
    let modules = qr::modules(code)?;
    let side = 170.0_f32;
    let cell = side / (modules.len() as f32 + 8.0);
    let (qx, qy) = (PAGE.0 - MARGIN - side, MARGIN + 40.0);
    let mut pb = PathBuilder::new();
    for (r, row) in modules.iter().enumerate() {
        for (c, dark) in row.iter().enumerate() {
            if *dark
                && let Some(rect) =
                    Rect::from_xywh(qx + (c as f32 + 4.0) * cell, qy + (r as f32 + 4.0) * cell, cell, cell)
            {
                pb.push_rect(rect);
            }
        }
    }
    fill(&mut surface, 0);
    if let Some(path) = pb.finish() {
        surface.draw_path(&path);
    }
    fill(&mut surface, 90);
    text(&mut surface, &fonts.latin, 7.0, qx + 4.0 * cell, qy + side + 4.0, "Signed by the centre (EXG1)");

    // Pictures: a row of up to four, then more rows, as space allows.
    let mut x = MARGIN;
    let mut py = y + 14.0;
    let (w, h) = (118.0_f32, 148.0_f32);
    for p in pictures {
        let image =
            Image::from_jpeg(p.jpeg.clone().into(), true).map_err(|e| PdfError::Picture(p.caption.clone(), e))?;
        let (iw, ih) = image.size();
        let scale = (w / iw.max(1) as f32).min(h / ih.max(1) as f32);
        let size = Size::from_wh(iw as f32 * scale, ih as f32 * scale)
            .ok_or_else(|| PdfError::Picture(p.caption.clone(), "empty".into()))?;
        if x + w > PAGE.0 - MARGIN {
            x = MARGIN;
            py += h + 24.0;
        }
        if py + h + 20.0 > PAGE.1 - MARGIN {
            return Err(PdfError::Write("too many pictures for one page: lower [sheet] max_snapshots".into()));
        }
        surface.push_transform(&Transform::from_translate(x, py));
        surface.draw_image(image, size);
        surface.pop();
        fill(&mut surface, 40);
        text(&mut surface, &fonts.latin, 7.5, x, py + h + 10.0, &p.caption);
        x += w + 12.0;
    }
    surface.finish();
    page.finish();
    document.finish().map_err(|e| PdfError::Write(format!("{e:?}")))
}

/// What `sheet verify` reads from a PDF. The text is read with this module's
/// own ToUnicode decoding (lopdf's `extract_text` refuses krilla's CMaps).
#[derive(Clone, Debug, Default)]
pub struct Read {
    /// The signed text from the Keywords.
    pub code: Option<String>,
    /// The page's text.
    pub text: String,
    /// The SHA-256 of each JPEG image stream, in the file's object order.
    pub images: Vec<String>,
}

/// Reads a sheet's code, text and pictures.
pub fn read(pdf: &[u8]) -> Result<Read, PdfError> {
    let doc = lopdf::Document::load_mem(pdf).map_err(|e| PdfError::Read(e.to_string()))?;
    let mut out = Read::default();
    if let Ok(info) = doc.trailer.get(b"Info").and_then(|o| doc.dereference(o)).and_then(|(_, o)| o.as_dict())
        && let Ok(k) = info.get(b"Keywords")
        && let Ok(s) = lopdf::decode_text_string(k)
    {
        out.code = s.split([',', ';', ' ']).map(str::trim).find(|w| w.starts_with(qr::PREFIX)).map(str::to_owned);
    }
    for (_, page) in doc.get_pages() {
        out.text.push_str(&page_text(&doc, page)?);
    }
    for object in doc.objects.values() {
        if let Ok(stream) = object.as_stream() {
            let is_image = stream.dict.get(b"Subtype").and_then(|s| s.as_name()).is_ok_and(|n| n == b"Image");
            let is_jpeg = match stream.dict.get(b"Filter") {
                Ok(lopdf::Object::Name(n)) => n == b"DCTDecode",
                Ok(lopdf::Object::Array(a)) => a.iter().any(|f| f.as_name().is_ok_and(|n| n == b"DCTDecode")),
                _ => false,
            };
            if is_image && is_jpeg {
                out.images.push(hex(&Sha256::digest(&stream.content)));
            }
        }
    }
    Ok(out)
}

/// A ToUnicode CMap: source code bytes to text.
#[derive(Default)]
struct ToUnicode {
    width: usize,
    map: std::collections::HashMap<Vec<u8>, String>,
}

fn utf16_hex(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes.chunks(2).map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])).collect();
    String::from_utf16_lossy(&units)
}

/// The `<hex>`, `[`, `]` and word tokens of a CMap.
fn cmap_tokens(data: &[u8]) -> Vec<Result<Vec<u8>, String>> {
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '<' {
            let hex: String = chars.by_ref().take_while(|&c| c != '>').filter(|c| c.is_ascii_hexdigit()).collect();
            let bytes =
                (0..hex.len() / 2).filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()).collect();
            out.push(Ok(bytes));
        } else if c == '[' || c == ']' {
            out.push(Err(c.to_string()));
        } else if !c.is_whitespace() {
            let mut word = c.to_string();
            while let Some(&n) = chars.peek() {
                if n.is_whitespace() || n == '<' || n == '[' || n == ']' {
                    break;
                }
                word.push(n);
                chars.next();
            }
            out.push(Err(word));
        }
    }
    out
}

fn parse_to_unicode(data: &[u8]) -> ToUnicode {
    let tokens = cmap_tokens(data);
    let mut cmap = ToUnicode::default();
    let mut i = 0;
    let mut section = "";
    while i < tokens.len() {
        match &tokens[i] {
            Err(w) if w == "beginbfchar" || w == "beginbfrange" || w == "begincodespacerange" => {
                section = if w == "beginbfchar" {
                    "char"
                } else if w == "beginbfrange" {
                    "range"
                } else {
                    "space"
                };
                i += 1;
            }
            Err(w) if w.starts_with("end") => {
                section = "";
                i += 1;
            }
            Ok(src) if section == "char" => {
                if let Some(Ok(dst)) = tokens.get(i + 1) {
                    cmap.width = src.len();
                    cmap.map.insert(src.clone(), utf16_hex(dst));
                }
                i += 2;
            }
            Ok(lo) if section == "range" => {
                cmap.width = lo.len();
                let hi = match tokens.get(i + 1) {
                    Some(Ok(h)) => h.clone(),
                    _ => lo.clone(),
                };
                let num = |b: &[u8]| b.iter().fold(0u32, |a, x| a << 8 | u32::from(*x));
                let (lo_n, hi_n) = (num(lo), num(&hi));
                let code = |n: u32| n.to_be_bytes()[4 - lo.len().min(4)..].to_vec();
                match tokens.get(i + 2) {
                    Some(Ok(dst)) => {
                        for (k, n) in (lo_n..=hi_n.min(lo_n + 0xFFFF)).enumerate() {
                            let mut d = dst.clone();
                            if let Some(last) = d.last_mut() {
                                *last = last.wrapping_add(k as u8);
                            }
                            cmap.map.insert(code(n), utf16_hex(&d));
                        }
                        i += 3;
                    }
                    Some(Err(b)) if b == "[" => {
                        let mut j = i + 3;
                        let mut n = lo_n;
                        while let Some(Ok(dst)) = tokens.get(j) {
                            cmap.map.insert(code(n), utf16_hex(dst));
                            n += 1;
                            j += 1;
                        }
                        i = j + 1;
                    }
                    _ => i += 1,
                }
            }
            Ok(lo) if section == "space" => {
                cmap.width = lo.len();
                i += 2;
            }
            _ => i += 1,
        }
    }
    cmap
}

/// A page's text: every shown string decoded through its font's ToUnicode CMap,
/// one line per text object.
fn page_text(doc: &lopdf::Document, page: lopdf::ObjectId) -> Result<String, PdfError> {
    use lopdf::Object;
    let err = |e: lopdf::Error| PdfError::Read(e.to_string());
    let mut cmaps: std::collections::HashMap<Vec<u8>, ToUnicode> = std::collections::HashMap::new();
    for (name, font) in doc.get_page_fonts(page).map_err(err)? {
        if let Ok(Object::Reference(r)) = font.get(b"ToUnicode")
            && let Ok(stream) = doc.get_object(*r).and_then(Object::as_stream)
        {
            let data = stream.decompressed_content().unwrap_or_else(|_| stream.content.clone());
            cmaps.insert(name, parse_to_unicode(&data));
        }
    }
    let content = doc.get_and_decode_page_content(page).map_err(err)?;
    let mut text = String::new();
    let mut font: Option<&ToUnicode> = None;
    let show = |bytes: &[u8], font: Option<&ToUnicode>, text: &mut String| {
        let Some(cmap) = font else { return };
        let width = cmap.width.max(1);
        for code in bytes.chunks(width) {
            if let Some(s) = cmap.map.get(code) {
                text.push_str(s);
            }
        }
    };
    for op in &content.operations {
        match op.operator.as_str() {
            "Tf" => font = op.operands.first().and_then(|n| n.as_name().ok()).and_then(|n| cmaps.get(n)),
            "Tj" | "'" | "\"" => {
                if let Some(Object::String(b, _)) = op.operands.last() {
                    show(b, font, &mut text);
                }
            }
            "TJ" => {
                if let Some(Object::Array(a)) = op.operands.first() {
                    for o in a {
                        if let Object::String(b, _) = o {
                            show(b, font, &mut text);
                        }
                    }
                }
            }
            "ET" => text.push('\n'),
            _ => {}
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cut_into_script_runs() {
        let r = runs("张伟");
        assert_eq!(r, vec![(Script::Cjk, "张伟".to_owned())]);
        let r = runs("ئەخمەت مۇھەممەت");
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].0, Script::Arabic);
        assert_eq!(runs("ᠪᠠᠲᠤ")[0].0, Script::Mongolian);
        let r = runs("Anna 李");
        assert_eq!(r, vec![(Script::Latin, "Anna ".to_owned()), (Script::Cjk, "李".to_owned())]);
    }
}
