//! Roster text to bookings as written, each with the line (CSV) or index (JSON)
//! that errors point at. Nothing is checked here beyond the file's structure.

use serde::Deserialize;

use super::{CSV_COLUMNS, OPTIONAL_EXAM_COLUMN, Place, RowError};

/// A booking as the roster wrote it; `None` where a JSON booking left a field out.
#[derive(Clone, PartialEq, Eq)]
pub struct RawBooking {
    pub line: usize,
    pub place: Place,
    pub booking_number: Option<String>,
    pub id_number: Option<String>,
    pub name: Option<String>,
    pub session: Option<String>,
    pub language: Option<String>,
    pub photo: Option<Source>,
    pub templates: Option<Vec<RawTemplate>>,
    /// The optional `exam` column: the exam definition's id.
    pub exam: Option<String>,
}

// Rows hold ID numbers, names and photos: never print them whole.
impl std::fmt::Debug for RawBooking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RawBooking({:?} {}, {:?})", self.place, self.line, self.booking_number)
    }
}

/// Where a photo's or a template's bytes are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A path relative to the roster file.
    File(String),
    /// Inline, standard base64.
    Base64(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawTemplate {
    /// `iso19794-2`, `ansi378`, `vendor:NAME`; `None`: detect ISO/ANSI from the record.
    pub format: Option<String>,
    pub source: Source,
}

/// A CSV roster: the header names the columns (any order, each once).
pub fn csv(text: &str) -> (Vec<RawBooking>, Vec<RowError>) {
    let mut reader =
        csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).has_headers(true).from_reader(text.as_bytes());
    let header_error = |reason: String| (Vec::new(), vec![RowError::new(Place::Line, 1, "header", reason)]);
    let header = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => return header_error(format!("cannot be read: {e}")),
    };
    let mut index = [usize::MAX; CSV_COLUMNS.len()];
    let mut exam_index = None;
    let mut problems = Vec::new();
    for (i, name) in header.iter().enumerate() {
        if name == OPTIONAL_EXAM_COLUMN {
            if exam_index.replace(i).is_some() {
                problems.push(format!("column {name:?} appears twice"));
            }
            continue;
        }
        match CSV_COLUMNS.iter().position(|c| *c == name) {
            Some(c) if index[c] != usize::MAX => problems.push(format!("column {name:?} appears twice")),
            Some(c) => index[c] = i,
            None => problems.push(format!("unknown column {name:?}")),
        }
    }
    let missing: Vec<&str> = CSV_COLUMNS.iter().zip(index).filter(|(_, i)| *i == usize::MAX).map(|(c, _)| *c).collect();
    if !missing.is_empty() {
        problems.push(format!("missing column(s) {}", missing.join(", ")));
    }
    if !problems.is_empty() {
        return header_error(format!("{}; expected {}", problems.join("; "), CSV_COLUMNS.join(",")));
    }
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| physical_line(text, p.byte()));
                errors.push(RowError::new(Place::Line, line, "row", format!("cannot be read: {e}")));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| physical_line(text, p.byte()));
        if record.len() != header.len() {
            let reason = format!("has {} fields; the header has {}", record.len(), header.len());
            errors.push(RowError::new(Place::Line, line, "row", reason));
            continue;
        }
        let field = |c: usize| record.get(index[c]).unwrap_or("").to_owned();
        let photo = field(5);
        rows.push(RawBooking {
            line,
            place: Place::Line,
            booking_number: Some(field(0)),
            id_number: Some(field(1)),
            name: Some(field(2)),
            session: Some(field(3)),
            language: Some(field(4)),
            photo: (!photo.is_empty()).then_some(Source::File(photo)),
            templates: Some(field(6).split(';').map(str::trim).filter(|e| !e.is_empty()).map(csv_template).collect()),
            exam: exam_index.and_then(|i| record.get(i)).filter(|e| !e.is_empty()).map(str::to_owned),
        });
    }
    (rows, errors)
}

/// The 1-based line a record starts on. csv's own line count misses blank
/// lines and CRLF; its byte offset points just past the previous record, so
/// skip the line breaks from there and count.
fn physical_line(text: &str, byte: u64) -> usize {
    let start = usize::try_from(byte).unwrap_or(text.len()).min(text.len());
    let skipped = text.as_bytes()[start..].iter().take_while(|b| matches!(b, b'\r' | b'\n')).count();
    1 + text.as_bytes()[..start + skipped].iter().filter(|b| **b == b'\n').count()
}

/// `FILE` or `FORMAT:FILE`, FORMAT being `iso19794-2`, `ansi378` or `vendor:NAME`.
fn csv_template(entry: &str) -> RawTemplate {
    let file = |format: Option<String>, file: &str| RawTemplate { format, source: Source::File(file.to_owned()) };
    for standard in ["iso19794-2", "ansi378"] {
        if let Some(rest) = entry.strip_prefix(standard).and_then(|r| r.strip_prefix(':')) {
            return file(Some(standard.to_owned()), rest);
        }
    }
    match entry.strip_prefix("vendor:") {
        Some(rest) => match rest.split_once(':') {
            Some((name, path)) => file(Some(format!("vendor:{name}")), path),
            None => file(Some(format!("vendor:{rest}")), ""),
        },
        None => file(None, entry),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRoster {
    bookings: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonBooking {
    booking_number: Option<String>,
    id_number: Option<String>,
    name: Option<String>,
    session: Option<String>,
    language: Option<String>,
    photo: Option<String>,
    photo_base64: Option<String>,
    templates: Option<Vec<JsonTemplate>>,
    exam: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonTemplate {
    format: Option<String>,
    file: Option<String>,
    data: Option<String>,
}

/// A JSON roster `{"bookings":[…]}`; errors name the booking by its 1-based index.
pub fn json(text: &str) -> (Vec<RawBooking>, Vec<RowError>) {
    let roster: JsonRoster = match serde_json::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            let reason = format!("is not a roster {{\"bookings\":[…]}}: {e}");
            return (Vec::new(), vec![RowError::new(Place::Booking, 0, "roster", reason)]);
        }
    };
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (i, value) in roster.bookings.into_iter().enumerate() {
        let index = i + 1;
        let b: JsonBooking = match serde_json::from_value(value) {
            Ok(b) => b,
            Err(e) => {
                errors.push(RowError::new(Place::Booking, index, "booking", e.to_string()));
                continue;
            }
        };
        let photo = match (b.photo, b.photo_base64) {
            (Some(_), Some(_)) => {
                errors.push(RowError::new(Place::Booking, index, "photo", "give photo or photo_base64, not both"));
                continue;
            }
            (Some(file), None) => Some(Source::File(file)),
            (None, Some(data)) => Some(Source::Base64(data)),
            (None, None) => None,
        };
        let mut templates = Vec::new();
        let mut bad_template = false;
        for (n, t) in b.templates.unwrap_or_default().into_iter().enumerate() {
            let source = match (t.file, t.data) {
                (Some(file), None) => Source::File(file),
                (None, Some(data)) if t.format.is_some() => Source::Base64(data),
                (None, Some(_)) => {
                    let reason = format!("template {}: inline data needs its format", n + 1);
                    errors.push(RowError::new(Place::Booking, index, "templates", reason));
                    bad_template = true;
                    continue;
                }
                _ => {
                    let reason = format!("template {}: give file or data (one of them)", n + 1);
                    errors.push(RowError::new(Place::Booking, index, "templates", reason));
                    bad_template = true;
                    continue;
                }
            };
            templates.push(RawTemplate { format: t.format, source });
        }
        if bad_template {
            continue;
        }
        rows.push(RawBooking {
            line: index,
            place: Place::Booking,
            booking_number: b.booking_number,
            id_number: b.id_number,
            name: b.name,
            session: b.session,
            language: b.language,
            photo,
            templates: Some(templates),
            exam: b.exam.filter(|e| !e.trim().is_empty()),
        });
    }
    (rows, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_carry_their_physical_lines_even_after_quoted_newlines() {
        let text = "booking_number,id_number,name,session,language,photo,templates\n\
                    A1,110101199003077777,\"Li\nLei\",2026-11-25 09:00,zh,p.jpg,a.fmr\n\
                    \n\
                    A2,x,y,z,en,p.png,\"iso19794-2:b.fmr; vendor:examgate-sim:fingers/3.tpl\"\n";
        let (rows, errors) = csv(text);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 5]);
        assert_eq!(rows[0].name.as_deref(), Some("Li\nLei"));
        assert_eq!(
            rows[1].templates.as_ref().unwrap(),
            &[
                RawTemplate { format: Some("iso19794-2".into()), source: Source::File("b.fmr".into()) },
                RawTemplate {
                    format: Some("vendor:examgate-sim".into()),
                    source: Source::File("fingers/3.tpl".into())
                },
            ]
        );
    }

    #[test]
    fn lines_count_blank_lines_and_crlf() {
        let header = "booking_number,id_number,name,session,language,photo,templates";
        let row = "A,1,2,3,4,5,6";
        for (text, lines) in [
            (format!("{header}\n{row}\n\n\n{row}\n{row}\n"), vec![2, 5, 6]),
            (format!("{header}\r\n{row}\r\n\r\n{row}\r\n"), vec![2, 4]),
            (format!("{header}\n{row}"), vec![2]),
        ] {
            let (rows, errors) = csv(&text);
            assert!(errors.is_empty());
            assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), lines, "{text:?}");
        }
    }

    #[test]
    fn a_csv_header_with_missing_or_unknown_columns_is_one_error_on_line_1() {
        let (rows, errors) = csv("booking_number,id_number,nom,session,language,photo,templates\nA1,1,2,3,4,5,6\n");
        assert!(rows.is_empty());
        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].line, errors[0].field.as_str()), (1, "header"));
        assert!(errors[0].reason.contains("unknown column \"nom\"") && errors[0].reason.contains("name"));
    }

    #[test]
    fn a_short_csv_row_is_reported_not_guessed() {
        let (rows, errors) =
            csv("booking_number,id_number,name,session,language,photo,templates\nA1,1,2\nA2,1,2,3,4,5,6\n");
        assert_eq!(rows.len(), 1);
        assert_eq!((errors[0].line, errors[0].field.as_str()), (2, "row"));
    }

    #[test]
    fn json_bookings_are_numbered_from_one_and_unknown_fields_refused() {
        let (rows, errors) = json(
            r#"{"bookings":[{"booking_number":"A1","photo_base64":"AA==","templates":[{"file":"a.fmr"}]},
               {"booking_number":"A2","nickname":"x"},
               {"booking_number":"A3","templates":[{"data":"AA=="}]}]}"#,
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].line, 1);
        assert_eq!(rows[0].photo, Some(Source::Base64("AA==".into())));
        assert_eq!((errors[0].line, errors[0].field.as_str()), (2, "booking"));
        assert!(errors[0].reason.contains("nickname"), "{}", errors[0].reason);
        assert_eq!((errors[1].line, errors[1].field.as_str()), (3, "templates"));
    }

    #[test]
    fn the_exam_column_is_optional_in_csv_and_json() {
        let header = "booking_number,id_number,name,session,language,photo,templates";
        let (rows, errors) = csv(&format!("{header}\nA1,1,n,s,en,p.jpg,a.fmr\n"));
        assert!(errors.is_empty());
        assert_eq!(rows[0].exam, None);
        let (rows, errors) = csv(&format!("exam,{header}\nC1,A1,1,n,s,en,p.jpg,a.fmr\n,A2,1,n,s,en,p.jpg,a.fmr\n"));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!((rows[0].exam.as_deref(), rows[1].exam.as_deref()), (Some("C1"), None));
        let (_, errors) = csv(&format!("exam,{header},exam\n"));
        assert!(errors[0].reason.contains("\"exam\" appears twice"), "{}", errors[0].reason);
        let (rows, _) = json(r#"{"bookings":[{"booking_number":"A1","exam":"subject-four"},{"booking_number":"A2"}]}"#);
        assert_eq!((rows[0].exam.as_deref(), rows[1].exam.as_deref()), (Some("subject-four"), None));
    }
}
