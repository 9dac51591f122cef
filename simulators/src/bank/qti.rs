//! The package's XML, written by hand in QTI 3.0's vocabulary: an item per language
//! (`qti-assessment-item`), the exams (`qti-assessment-test`) and the IMS content
//! package manifest. No DTD, no entities beyond the five predefined ones.

use std::fmt::Write;

use super::exams::ExamSpec;
use super::items::{Item, Kind};
use super::lang::{Direction, Texts};

pub const QTI_NS: &str = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0";
const QTI_XSD: &str = "https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqti_asiv3p0_v1p0.xsd";
pub const CP_NS: &str = "http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1";
const CP_XSD: &str = "https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqtiv3p0_imscpv1p2_v1p0.xsd";
const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";
pub const MATCH_CORRECT: &str = "https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/match_correct.xml";
/// Resource types of the manifest.
pub const ITEM_RESOURCE: &str = "imsqti_item_xmlv3p0";
pub const TEST_RESOURCE: &str = "imsqti_test_xmlv3p0";

/// Text for element content and attribute values alike.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(ch),
        }
    }
    out
}

/// Where an item's translation lives: `items/C07/C07-0012.zh-CN.xml`.
pub fn item_path(item: &Item, t: &Texts) -> String {
    format!("items/{}/{}.{}.xml", item.category.code(), item.id, t.tag)
}

/// Its picture, beside it (so `src` is a plain file name): `items/C01/C01-0003.png`.
pub fn picture_path(item: &Item) -> String {
    format!("items/{}/{}.png", item.category.code(), item.id)
}

/// The test of an exam, at the package's root: `c1-subject-one.xml`.
pub fn test_path(exam: &ExamSpec) -> String {
    format!("{}.xml", exam.id)
}

/// The item in language `t`; `picture` is its image's size where it has one.
pub fn item_xml(item: &Item, t: &Texts, picture: Option<(u32, u32)>) -> String {
    let mut x = String::with_capacity(2048);
    let cardinality = if item.kind == Kind::Multiple { "multiple" } else { "single" };
    let max_choices = if item.kind == Kind::Multiple { 0 } else { 1 };
    let category = t.categories[usize::from(item.category.number()) - 1];
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<qti-assessment-item xmlns=\"{QTI_NS}\" xmlns:xsi=\"{XSI_NS}\" xsi:schemaLocation=\"{QTI_NS} {QTI_XSD}\" \
         identifier=\"{}\" title=\"{}\" adaptive=\"false\" time-dependent=\"false\" xml:lang=\"{}\">",
        item.id,
        escape(&format!("{category} {}", item.id)),
        t.tag
    );
    let _ = writeln!(
        x,
        "  <qti-response-declaration identifier=\"RESPONSE\" cardinality=\"{cardinality}\" base-type=\"identifier\">"
    );
    x.push_str("    <qti-correct-response>\n");
    for id in &item.correct {
        let _ = writeln!(x, "      <qti-value>{id}</qti-value>");
    }
    x.push_str("    </qti-correct-response>\n  </qti-response-declaration>\n");
    x.push_str("  <qti-outcome-declaration identifier=\"SCORE\" cardinality=\"single\" base-type=\"float\">\n");
    x.push_str("    <qti-default-value>\n      <qti-value>0</qti-value>\n    </qti-default-value>\n");
    x.push_str("  </qti-outcome-declaration>\n");
    match t.direction {
        Direction::Ltr => x.push_str("  <qti-item-body>\n"),
        Direction::Rtl => x.push_str("  <qti-item-body dir=\"rtl\">\n"),
    }
    if let Some((w, h)) = picture {
        let _ = writeln!(
            x,
            "    <p><img src=\"{}.png\" alt=\"{}\" width=\"{w}\" height=\"{h}\"/></p>",
            item.id,
            escape(t.picture)
        );
    }
    let _ = writeln!(
        x,
        "    <qti-choice-interaction response-identifier=\"RESPONSE\" shuffle=\"{}\" max-choices=\"{max_choices}\">",
        item.shuffle
    );
    let _ = writeln!(x, "      <qti-prompt>{}</qti-prompt>", escape(&item.prompt.render(t)));
    for choice in &item.choices {
        let _ = writeln!(
            x,
            "      <qti-simple-choice identifier=\"{}\">{}</qti-simple-choice>",
            choice.id,
            escape(&choice.text.render(t))
        );
    }
    x.push_str("    </qti-choice-interaction>\n  </qti-item-body>\n");
    let _ = writeln!(x, "  <qti-response-processing template=\"{MATCH_CORRECT}\"/>");
    x.push_str("</qti-assessment-item>\n");
    x
}

/// A section of a test: the items of one category and kind, `select` of them drawn.
pub struct SectionRefs<'a> {
    pub code: String,
    pub title: String,
    pub kind: Kind,
    pub select: u32,
    pub items: Vec<&'a Item>,
}

/// The exam as a `qti-assessment-test`. Every item ref names the item's zh-CN file and
/// carries its category; `weight` (points an item) is a `qti-weight` W on each ref.
pub fn test_xml(exam: &ExamSpec, sections: &[SectionRefs<'_>], primary: &Texts) -> String {
    let mut x = String::with_capacity(64 * 1024);
    let max = exam.questions() * exam.weight;
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<qti-assessment-test xmlns=\"{QTI_NS}\" xmlns:xsi=\"{XSI_NS}\" xsi:schemaLocation=\"{QTI_NS} {QTI_XSD}\" \
         identifier=\"{}\" title=\"{}\">",
        exam.id,
        escape(exam.title)
    );
    let mastery = exam.pass.map_or_else(String::new, |p| format!(" mastery-value=\"{p}\""));
    let _ = writeln!(
        x,
        "  <qti-outcome-declaration identifier=\"SCORE\" cardinality=\"single\" base-type=\"float\" \
         normal-minimum=\"0\" normal-maximum=\"{max}\"{mastery}>"
    );
    x.push_str("    <qti-default-value>\n      <qti-value>0</qti-value>\n    </qti-default-value>\n");
    x.push_str("  </qti-outcome-declaration>\n");
    if exam.pass.is_some() {
        x.push_str("  <qti-outcome-declaration identifier=\"PASS\" cardinality=\"single\" base-type=\"boolean\">\n");
        x.push_str("    <qti-default-value>\n      <qti-value>false</qti-value>\n    </qti-default-value>\n");
        x.push_str("  </qti-outcome-declaration>\n");
    }
    let _ = writeln!(x, "  <qti-time-limits max-time=\"{}\" allow-late-submission=\"false\"/>", exam.minutes * 60);
    x.push_str(
        "  <qti-test-part identifier=\"part-1\" navigation-mode=\"nonlinear\" submission-mode=\"simultaneous\">\n",
    );
    let _ = writeln!(
        x,
        "    <qti-assessment-section identifier=\"{}-paper\" title=\"{}\" visible=\"true\">",
        exam.id,
        escape(exam.title)
    );
    x.push_str("      <qti-ordering shuffle=\"true\"/>\n");
    for s in sections {
        let _ = writeln!(
            x,
            "      <qti-assessment-section identifier=\"{}-{}-{}\" title=\"{}\" visible=\"false\" keep-together=\"false\">",
            exam.id,
            s.code,
            s.kind.name(),
            escape(&s.title)
        );
        let _ = writeln!(x, "        <qti-selection select=\"{}\"/>", s.select);
        for item in &s.items {
            let href = item_path(item, primary);
            let code = item.category.code();
            if exam.weight == 1 {
                let _ = writeln!(
                    x,
                    "        <qti-assessment-item-ref identifier=\"{}\" href=\"{href}\" category=\"{code}\"/>",
                    item.id
                );
            } else {
                let _ = writeln!(
                    x,
                    "        <qti-assessment-item-ref identifier=\"{}\" href=\"{href}\" category=\"{code}\">",
                    item.id
                );
                let _ = writeln!(x, "          <qti-weight identifier=\"W\" value=\"{}\"/>", exam.weight);
                x.push_str("        </qti-assessment-item-ref>\n");
            }
        }
        x.push_str("      </qti-assessment-section>\n");
    }
    x.push_str("    </qti-assessment-section>\n  </qti-test-part>\n");
    x.push_str("  <qti-outcome-processing>\n");
    x.push_str("    <qti-set-outcome-value identifier=\"SCORE\">\n");
    x.push_str(
        "      <qti-sum>\n        <qti-test-variables variable-identifier=\"SCORE\" weight-identifier=\"W\"/>\n",
    );
    x.push_str("      </qti-sum>\n    </qti-set-outcome-value>\n");
    if let Some(pass) = exam.pass {
        x.push_str("    <qti-set-outcome-value identifier=\"PASS\">\n      <qti-gte>\n");
        x.push_str("        <qti-variable identifier=\"SCORE\"/>\n");
        let _ = writeln!(x, "        <qti-base-value base-type=\"float\">{pass}</qti-base-value>");
        x.push_str("      </qti-gte>\n    </qti-set-outcome-value>\n");
    }
    x.push_str("  </qti-outcome-processing>\n");
    x.push_str("</qti-assessment-test>\n");
    x
}

/// One `resource` of the manifest.
pub struct Resource {
    pub identifier: String,
    pub kind: &'static str,
    pub href: String,
    pub files: Vec<String>,
    pub dependencies: Vec<String>,
}

/// `imsmanifest.xml`: every resource with every file it uses.
pub fn manifest_xml(identifier: &str, resources: &[Resource]) -> String {
    let mut x = String::with_capacity(resources.len() * 256);
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<manifest xmlns=\"{CP_NS}\" xmlns:xsi=\"{XSI_NS}\" xsi:schemaLocation=\"{CP_NS} {CP_XSD}\" identifier=\"{}\">",
        escape(identifier)
    );
    x.push_str(
        "  <metadata>\n    <schema>QTI Package</schema>\n    <schemaversion>3.0.0</schemaversion>\n  </metadata>\n",
    );
    x.push_str("  <organizations/>\n  <resources>\n");
    for r in resources {
        let _ = writeln!(
            x,
            "    <resource identifier=\"{}\" type=\"{}\" href=\"{}\">",
            escape(&r.identifier),
            r.kind,
            escape(&r.href)
        );
        for f in &r.files {
            let _ = writeln!(x, "      <file href=\"{}\"/>", escape(f));
        }
        for d in &r.dependencies {
            let _ = writeln!(x, "      <dependency identifierref=\"{}\"/>", escape(d));
        }
        x.push_str("    </resource>\n");
    }
    x.push_str("  </resources>\n</manifest>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_the_five_characters_xml_reserves() {
        assert_eq!(escape(r#"a<b>&"c'"#), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(escape("l'autoroute"), "l&apos;autoroute");
    }
}
