//! A small, safe XML tree for QTI files, read with `quick-xml`.
//!
//! Safety first: a document holding `<!DOCTYPE` or `<!ENTITY` anywhere (in
//! any case) is refused before it is parsed at all, so no DTD, internal or
//! external entity (billion laughs, XXE) is ever seen by the parser;
//! references other than the five predefined entities and character
//! references are refused too, and so is `xi:include`. quick-xml itself never
//! expands DTD entities or fetches anything; the checks here make the refusal
//! explicit instead of relying on that.
//!
//! Names are normalised so that QTI 3.0 and 2.1 read alike: a namespace
//! prefix is dropped, a leading `qti-` is dropped and dashes become camel
//! case (`qti-choice-interaction` → `choiceInteraction`, `max-time` →
//! `maxTime`). `xml:lang` keeps its name.

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

/// An element: its normalised name, attributes and children.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Node>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    Text(String),
}

/// Why a file is not acceptable XML.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("holds a DTD or entity declaration (<!DOCTYPE / <!ENTITY), which is refused")]
    Dtd,
    #[error("uses the entity &{0}; (only &amp; &lt; &gt; &quot; &apos; and character references are allowed)")]
    Entity(String),
    #[error("includes another document (xi:include), which is refused")]
    Include,
    #[error("is not UTF-8")]
    NotUtf8,
    #[error("is not well-formed XML: {0}")]
    Syntax(String),
    #[error("has no root element")]
    Empty,
    #[error("nests elements deeper than {0}")]
    TooDeep(usize),
}

const MAX_DEPTH: usize = 64;

/// Whether the bytes hold a DTD or entity declaration (ASCII case-insensitive).
pub fn has_dtd(bytes: &[u8]) -> bool {
    let needle_doctype = b"<!doctype";
    let needle_entity = b"<!entity";
    bytes.windows(needle_doctype.len()).any(|w| w.eq_ignore_ascii_case(needle_doctype))
        || bytes.windows(needle_entity.len()).any(|w| w.eq_ignore_ascii_case(needle_entity))
}

/// `qti-choice-interaction` → `choiceInteraction`; `m:prompt` → `prompt`.
pub fn normalise_name(raw: &str) -> String {
    if raw == "xml:lang" {
        return raw.to_owned();
    }
    let local = raw.rsplit(':').next().unwrap_or(raw);
    let local = local.strip_prefix("qti-").unwrap_or(local);
    let mut out = String::with_capacity(local.len());
    let mut upper = false;
    for c in local.chars() {
        if c == '-' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn predefined(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => return None,
    })
}

fn char_ref(name: &str) -> Option<char> {
    let n = name.strip_prefix('#')?;
    let code = match n.strip_prefix('x').or_else(|| n.strip_prefix('X')) {
        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
        None => n.parse().ok()?,
    };
    char::from_u32(code)
}

/// Resolves the five predefined entities and character references in an
/// attribute value; anything else is refused.
fn unescape(raw: &str) -> Result<String, XmlError> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let end = after.find(';').ok_or_else(|| XmlError::Syntax("an unterminated & reference".into()))?;
        let name = &after[..end];
        out.push(predefined(name).or_else(|| char_ref(name)).ok_or_else(|| XmlError::Entity(name.to_owned()))?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn start(e: &BytesStart<'_>) -> Result<Element, XmlError> {
    let raw_name: String = e.name().as_ref().to_owned();
    if raw_name.ends_with(":include") || raw_name == "include" {
        return Err(XmlError::Include);
    }
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|e| XmlError::Syntax(e.to_string()))?;
        let key: &str = a.key.as_ref();
        if key == "xmlns" || key.starts_with("xmlns:") || key.starts_with("xsi:") {
            continue;
        }
        let value: &str = &a.value;
        attrs.push((normalise_name(key), unescape(value)?));
    }
    Ok(Element { name: normalise_name(&raw_name), attrs, children: Vec::new() })
}

/// Parses a whole document into its root element.
pub fn parse(bytes: &[u8]) -> Result<Element, XmlError> {
    if has_dtd(bytes) {
        return Err(XmlError::Dtd);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| XmlError::NotUtf8)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    loop {
        let event =
            reader.read_event().map_err(|e| XmlError::Syntax(format!("{e} (at byte {})", reader.buffer_position())))?;
        match event {
            Event::DocType(_) => return Err(XmlError::Dtd),
            Event::Start(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep(MAX_DEPTH));
                }
                stack.push(start(&e)?);
            }
            Event::Empty(e) => {
                let el = start(&e)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Element(el)),
                    None if root.is_none() => root = Some(el),
                    None => return Err(XmlError::Syntax("more than one root element".into())),
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or_else(|| XmlError::Syntax("an end tag without a start".into()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Element(el)),
                    None if root.is_none() => root = Some(el),
                    None => return Err(XmlError::Syntax("more than one root element".into())),
                }
            }
            Event::Text(t) => {
                if let Some(parent) = stack.last_mut() {
                    push_text(parent, &t);
                }
            }
            Event::CData(t) => {
                if let Some(parent) = stack.last_mut() {
                    push_text(parent, &t);
                }
            }
            Event::GeneralRef(r) => {
                let name: &str = &r;
                let c = predefined(name).or_else(|| char_ref(name)).ok_or_else(|| XmlError::Entity(name.to_owned()))?;
                if let Some(parent) = stack.last_mut() {
                    push_text(parent, c.encode_utf8(&mut [0; 4]));
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Syntax("the document ends inside an element".into()));
    }
    root.ok_or(XmlError::Empty)
}

fn push_text(parent: &mut Element, s: &str) {
    if let Some(Node::Text(last)) = parent.children.last_mut() {
        last.push_str(s);
    } else {
        parent.children.push(Node::Text(s.to_owned()));
    }
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The child elements.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The child elements named `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.elements().filter(move |e| e.name == name)
    }

    pub fn child(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.name == name)
    }

    /// Every element below this one (depth first, document order), itself excluded.
    pub fn descendants(&self) -> Vec<&Element> {
        let mut out = Vec::new();
        fn walk<'a>(e: &'a Element, out: &mut Vec<&'a Element>) {
            for c in e.elements() {
                out.push(c);
                walk(c, out);
            }
        }
        walk(self, &mut out);
        out
    }

    /// The text inside, whitespace collapsed.
    pub fn text(&self) -> String {
        let mut raw = String::new();
        fn walk(e: &Element, out: &mut String) {
            for n in &e.children {
                match n {
                    Node::Text(t) => out.push_str(t),
                    Node::Element(c) => {
                        out.push(' ');
                        walk(c, out);
                        out.push(' ');
                    }
                }
            }
        }
        walk(self, &mut raw);
        raw.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_qti_3_and_2_read_alike() {
        assert_eq!(normalise_name("qti-choice-interaction"), "choiceInteraction");
        assert_eq!(normalise_name("choiceInteraction"), "choiceInteraction");
        assert_eq!(normalise_name("max-time"), "maxTime");
        assert_eq!(normalise_name("xml:lang"), "xml:lang");
        assert_eq!(normalise_name("m:math"), "math");
    }

    #[test]
    fn refuses_billion_laughs_before_parsing() {
        let doc = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><a>&lol2;</a>"#;
        assert_eq!(parse(doc), Err(XmlError::Dtd));
    }

    #[test]
    fn refuses_external_entities_and_lower_case_doctype() {
        let xxe = br#"<!doctype a [<!entity x SYSTEM "file:///etc/passwd">]><a>&x;</a>"#;
        assert_eq!(parse(xxe), Err(XmlError::Dtd));
        // An undeclared entity reference without a DTD is refused too.
        assert_eq!(parse(b"<a>&x;</a>"), Err(XmlError::Entity("x".into())));
        assert_eq!(parse(b"<a b=\"&x;\"/>"), Err(XmlError::Entity("x".into())));
    }

    #[test]
    fn refuses_xinclude() {
        let doc = br#"<a xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="/etc/passwd"/></a>"#;
        assert_eq!(parse(doc), Err(XmlError::Include));
    }

    #[test]
    fn reads_predefined_and_character_references() {
        let e = parse("<a t=\"x &amp; y\">1 &lt; 2 &#x4E2D;&#25991;</a>".as_bytes()).unwrap();
        assert_eq!(e.attr("t"), Some("x & y"));
        assert_eq!(e.text(), "1 < 2 中文");
    }

    #[test]
    fn refuses_malformed_documents() {
        assert!(matches!(parse(b"<a><b></a>"), Err(XmlError::Syntax(_))));
        assert!(matches!(parse(b""), Err(XmlError::Empty)));
        assert!(matches!(parse(b"\xff\xfe<a/>"), Err(XmlError::NotUtf8)));
    }
}
