//! Dataset files: reading CSV and JSONL row by row with line numbers, inferring a schema, and
//! turning each row into the JSON object that Juru stores as an item.
//!
//! Import is two passes over a file: [`inspect`] validates every row and infers the schema (so
//! that every bad row is reported and nothing is written when there is one), then [`for_each_row`]
//! yields each row as compact JSON, typed by that schema.

use std::io::Read;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The file formats Juru reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Jsonl,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" | "json-lines" => Some(Format::Jsonl),
            _ => None,
        }
    }

    /// Guesses the format from a file name's extension.
    pub fn from_file_name(name: &str) -> Option<Format> {
        let ext = name.rsplit_once('.')?.1;
        Format::parse(ext)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }
}

/// The type of a field, as inferred from every value it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// Only empty values were seen.
    Null,
    Boolean,
    Integer,
    Number,
    String,
    Object,
    Array,
    /// Values of different kinds (JSONL only; CSV falls back to string).
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: FieldType,
    /// Whether some row lacks a value for this field.
    pub nullable: bool,
}

/// The fields of a dataset version, in the order they first appeared.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    pub fields: Vec<Field>,
}

/// A row that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    pub line: u64,
    pub reason: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// The most row errors kept in detail; the count stays exact.
pub const MAX_REPORTED_ERRORS: usize = 1000;

/// What the first pass found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inspection {
    pub schema: Schema,
    pub rows: u64,
    pub error_count: u64,
    pub errors: Vec<RowError>,
}

impl Inspection {
    fn push_error(&mut self, err: RowError) {
        self.error_count += 1;
        if self.errors.len() < MAX_REPORTED_ERRORS {
            self.errors.push(err);
        }
    }

    /// A one-paragraph account of the errors, for messages.
    pub fn error_summary(&self) -> String {
        let mut s = self.errors.iter().take(20).map(|e| e.to_string()).collect::<Vec<_>>().join("; ");
        if self.error_count > 20 {
            s.push_str(&format!("; and {} more", self.error_count - 20));
        }
        s
    }
}

/// The whole file could not be read (as opposed to single bad rows).
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("the file is empty: a CSV file needs a header line")]
    NoHeader,
    #[error("header: {0}")]
    BadHeader(String),
    #[error("the file changed while it was imported: {0}")]
    Changed(String),
    #[error("reading the file: {0}")]
    Io(#[from] std::io::Error),
}

/// Pass one: reads every row, reporting each bad one, and infers the schema.
pub fn inspect(format: Format, reader: impl Read) -> Result<Inspection, FileError> {
    match format {
        Format::Csv => inspect_csv(reader),
        Format::Jsonl => inspect_jsonl(reader),
    }
}

/// Pass two: calls `f` with each row as compact JSON, typed by `schema`. Rows must have passed
/// [`inspect`]; a row that fails now (the file changed in between) stops the pass with an error.
pub fn for_each_row<E: From<FileError>>(
    format: Format,
    reader: impl Read,
    schema: &Schema,
    mut f: impl FnMut(String) -> Result<(), E>,
) -> Result<(), E> {
    match format {
        Format::Csv => {
            let mut rdr = csv_reader(reader);
            let headers = read_headers(&mut rdr)?;
            let keys: Vec<String> = headers.iter().map(|h| Value::String(h.clone()).to_string()).collect();
            let types: Vec<FieldType> = schema.fields.iter().map(|f| f.ty).collect();
            let mut record = csv::ByteRecord::new();
            let mut out = String::new();
            loop {
                match rdr.read_byte_record(&mut record) {
                    Ok(false) => break,
                    Ok(true) => {}
                    Err(e) => return Err(FileError::Changed(e.to_string()).into()),
                }
                out.clear();
                out.push('{');
                for (i, cell) in record.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&keys[i]);
                    out.push(':');
                    let text = std::str::from_utf8(cell)
                        .map_err(|_| FileError::Changed("a cell is not valid UTF-8".into()))?;
                    write_typed_cell(&mut out, text, types.get(i).copied().unwrap_or(FieldType::String));
                }
                out.push('}');
                f(std::mem::take(&mut out))?;
            }
            Ok(())
        }
        Format::Jsonl => {
            let mut lines = LineReader::new(reader);
            while let Some((_, line)) = lines.next_line()? {
                let trimmed = line.trim();
                if trimmed.is_empty() {
                    continue;
                }
                f(trimmed.to_owned())?;
            }
            Ok(())
        }
    }
}

fn csv_reader(reader: impl Read) -> csv::Reader<impl Read> {
    csv::ReaderBuilder::new().has_headers(false).flexible(true).buffer_capacity(1 << 16).from_reader(reader)
}

fn read_headers<R: Read>(rdr: &mut csv::Reader<R>) -> Result<Vec<String>, FileError> {
    let mut record = csv::ByteRecord::new();
    match rdr.read_byte_record(&mut record) {
        Ok(true) => {}
        Ok(false) => return Err(FileError::NoHeader),
        Err(e) => return Err(FileError::BadHeader(e.to_string())),
    }
    let mut names: Vec<String> = Vec::with_capacity(record.len());
    for (i, cell) in record.iter().enumerate() {
        let mut name = std::str::from_utf8(cell)
            .map_err(|_| FileError::BadHeader(format!("column {} is not valid UTF-8", i + 1)))?
            .trim()
            .to_owned();
        if i == 0 {
            name = name.trim_start_matches('\u{feff}').to_owned();
        }
        if name.is_empty() {
            return Err(FileError::BadHeader(format!("column {} has an empty name", i + 1)));
        }
        if names.contains(&name) {
            return Err(FileError::BadHeader(format!("column {name:?} appears twice")));
        }
        names.push(name);
    }
    Ok(names)
}

fn inspect_csv(reader: impl Read) -> Result<Inspection, FileError> {
    let mut rdr = csv_reader(reader);
    let headers = read_headers(&mut rdr)?;
    let mut kinds: Vec<Option<FieldType>> = vec![None; headers.len()];
    let mut nullable = vec![false; headers.len()];
    let mut out = Inspection::default();
    let mut record = csv::ByteRecord::new();
    loop {
        let line = rdr.position().line() + if rdr.position().line() == 0 { 1 } else { 0 };
        match rdr.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(line);
                out.push_error(RowError { line, reason: csv_reason(&e) });
                continue;
            }
        }
        let line = record.position().map(|p| p.line()).unwrap_or(line);
        if record.len() != headers.len() {
            out.push_error(RowError {
                line,
                reason: format!("expected {} fields, found {}", headers.len(), record.len()),
            });
            continue;
        }
        let mut bad = None;
        for (i, cell) in record.iter().enumerate() {
            match std::str::from_utf8(cell) {
                Ok(text) => match cell_kind(text) {
                    None => nullable[i] = true,
                    Some(k) => kinds[i] = Some(unify_csv(kinds[i], k)),
                },
                Err(_) => {
                    bad = Some(format!("column {:?} is not valid UTF-8", headers[i]));
                    break;
                }
            }
        }
        match bad {
            Some(reason) => out.push_error(RowError { line, reason }),
            None => out.rows += 1,
        }
    }
    out.schema.fields = headers
        .into_iter()
        .enumerate()
        .map(|(i, name)| Field { name, ty: kinds[i].unwrap_or(FieldType::Null), nullable: nullable[i] })
        .collect();
    Ok(out)
}

fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".into(),
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("expected {expected_len} fields, found {len}")
        }
        _ => e.to_string(),
    }
}

/// The kind of one CSV cell; `None` for an empty cell. Numbers with leading zeros ("0812…",
/// "007") stay strings: they are phone numbers and codes, not quantities.
fn cell_kind(text: &str) -> Option<FieldType> {
    if text.is_empty() {
        return None;
    }
    if matches!(text, "true" | "false" | "TRUE" | "FALSE" | "True" | "False") {
        return Some(FieldType::Boolean);
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let leading_zero = digits.len() > 1 && digits.starts_with('0') && !digits.starts_with("0.");
    if digits.is_empty() || leading_zero || !digits.as_bytes()[0].is_ascii_digit() {
        return Some(FieldType::String);
    }
    if digits.bytes().all(|b| b.is_ascii_digit()) && text.parse::<i64>().is_ok() {
        return Some(FieldType::Integer);
    }
    let numeric_chars = digits.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b));
    if numeric_chars && text.parse::<f64>().is_ok_and(f64::is_finite) {
        return Some(FieldType::Number);
    }
    Some(FieldType::String)
}

fn unify_csv(seen: Option<FieldType>, new: FieldType) -> FieldType {
    use FieldType::*;
    match (seen, new) {
        (None, t) => t,
        (Some(a), b) if a == b => a,
        (Some(Integer), Number) | (Some(Number), Integer) => Number,
        _ => String,
    }
}

fn write_typed_cell(out: &mut String, text: &str, ty: FieldType) {
    use std::fmt::Write;
    if text.is_empty() {
        out.push_str("null");
        return;
    }
    match ty {
        FieldType::Integer | FieldType::Boolean => {
            if ty == FieldType::Boolean {
                out.push_str(if text.eq_ignore_ascii_case("true") { "true" } else { "false" });
            } else {
                out.push_str(text.strip_prefix('+').unwrap_or(text));
            }
        }
        FieldType::Number => match text.parse::<f64>() {
            Ok(x) => {
                let _ = write!(out, "{}", Value::from(x));
            }
            Err(_) => out.push_str("null"),
        },
        _ => out.push_str(&Value::String(text.to_owned()).to_string()),
    }
}

fn inspect_jsonl(reader: impl Read) -> Result<Inspection, FileError> {
    let mut out = Inspection::default();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut fields: Vec<(String, Option<FieldType>, u64)> = Vec::new();
    let mut lines = LineReader::new(reader);
    while let Some((line_no, line)) = lines.next_line()? {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        let value: Value = match serde_json::from_str(trimmed) {
            Ok(v) => v,
            Err(e) => {
                out.push_error(RowError { line: line_no, reason: format!("invalid JSON: {e}") });
                continue;
            }
        };
        let Value::Object(map) = value else {
            out.push_error(RowError {
                line: line_no,
                reason: format!("expected a JSON object, found {}", json_kind_name(&value)),
            });
            continue;
        };
        out.rows += 1;
        for (key, v) in map {
            let kind = json_kind(&v);
            let slot = *index.entry(key.clone()).or_insert_with(|| {
                fields.push((key, None, 0));
                fields.len() - 1
            });
            let (_, ty, present) = &mut fields[slot];
            if let Some(k) = kind {
                *present += 1;
                *ty = Some(match *ty {
                    None => k,
                    Some(a) if a == k => a,
                    Some(FieldType::Integer) if k == FieldType::Number => FieldType::Number,
                    Some(FieldType::Number) if k == FieldType::Integer => FieldType::Number,
                    Some(_) => FieldType::Json,
                });
            }
        }
    }
    // serde_json's map yields keys sorted, so JSONL fields come out in name order.
    out.schema.fields = fields
        .into_iter()
        .map(|(name, ty, present)| Field {
            name,
            ty: ty.unwrap_or(FieldType::Null),
            nullable: present < out.rows,
        })
        .collect();
    Ok(out)
}

fn json_kind(v: &Value) -> Option<FieldType> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(_) => FieldType::Boolean,
        Value::Number(n) if n.is_i64() || n.is_u64() => FieldType::Integer,
        Value::Number(_) => FieldType::Number,
        Value::String(_) => FieldType::String,
        Value::Array(_) => FieldType::Array,
        Value::Object(_) => FieldType::Object,
    })
}

fn json_kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads lines with their 1-based numbers, reporting invalid UTF-8 per line rather than failing.
struct LineReader<R> {
    inner: std::io::BufReader<R>,
    buf: Vec<u8>,
    line: u64,
}

impl<R: Read> LineReader<R> {
    fn new(reader: R) -> Self {
        Self { inner: std::io::BufReader::with_capacity(1 << 16, reader), buf: Vec::new(), line: 0 }
    }

    fn next_line(&mut self) -> Result<Option<(u64, std::borrow::Cow<'_, str>)>, FileError> {
        use std::io::BufRead;
        self.buf.clear();
        if self.inner.read_until(b'\n', &mut self.buf)? == 0 {
            return Ok(None);
        }
        self.line += 1;
        if self.line == 1 && self.buf.starts_with(b"\xef\xbb\xbf") {
            self.buf.drain(..3);
        }
        Ok(Some((self.line, String::from_utf8_lossy(&self.buf))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(format: Format, data: &str) -> (Inspection, Vec<String>) {
        let insp = inspect(format, data.as_bytes()).unwrap();
        let mut out = Vec::new();
        for_each_row::<FileError>(format, data.as_bytes(), &insp.schema, |r| {
            out.push(r);
            Ok(())
        })
        .unwrap();
        (insp, out)
    }

    #[test]
    fn csv_types_are_inferred_from_every_row() {
        let data = "id,text,score,ok,phone\n1,halo,0.5,true,0812\n2,\"kirim, cepat\",2,false,0813\n3,,,,\n";
        let (insp, out) = rows(Format::Csv, data);
        let types: Vec<_> = insp.schema.fields.iter().map(|f| (f.name.as_str(), f.ty, f.nullable)).collect();
        assert_eq!(
            types,
            vec![
                ("id", FieldType::Integer, false),
                ("text", FieldType::String, true),
                ("score", FieldType::Number, true),
                ("ok", FieldType::Boolean, true),
                ("phone", FieldType::String, true),
            ]
        );
        assert_eq!(out[1], r#"{"id":2,"text":"kirim, cepat","score":2.0,"ok":false,"phone":"0813"}"#);
        assert_eq!(out[2], r#"{"id":3,"text":null,"score":null,"ok":null,"phone":null}"#);
        for row in &out {
            serde_json::from_str::<Value>(row).unwrap();
        }
    }

    #[test]
    fn every_bad_csv_row_is_reported_with_its_line() {
        let data = "a,b\n1,2\n3\n4,5\n6,7,8\n";
        let insp = inspect(Format::Csv, data.as_bytes()).unwrap();
        assert_eq!(insp.rows, 2);
        assert_eq!(
            insp.errors,
            vec![
                RowError { line: 3, reason: "expected 2 fields, found 1".into() },
                RowError { line: 5, reason: "expected 2 fields, found 3".into() },
            ]
        );
    }

    #[test]
    fn csv_header_problems_are_file_errors() {
        assert!(matches!(inspect(Format::Csv, "".as_bytes()), Err(FileError::NoHeader)));
        let e = inspect(Format::Csv, "a,,c\n".as_bytes()).unwrap_err().to_string();
        assert_eq!(e, "header: column 2 has an empty name");
        let e = inspect(Format::Csv, "a,a\n".as_bytes()).unwrap_err().to_string();
        assert!(e.contains("appears twice"), "{e}");
    }

    #[test]
    fn invalid_utf8_is_a_row_error() {
        let data = b"a\nok\n\xff\xfe\n";
        let insp = inspect(Format::Csv, &data[..]).unwrap();
        assert_eq!(insp.errors, vec![RowError { line: 3, reason: "column \"a\" is not valid UTF-8".into() }]);
    }

    #[test]
    fn jsonl_rows_and_errors() {
        let data = "{\"text\":\"a\",\"n\":1}\n\n[1]\n{\"text\":\"b\",\"n\":1.5,\"x\":{}}\n{bad\n";
        let insp = inspect(Format::Jsonl, data.as_bytes()).unwrap();
        assert_eq!(insp.rows, 2);
        assert_eq!(insp.error_count, 2);
        assert_eq!(
            insp.errors[0],
            RowError { line: 3, reason: "expected a JSON object, found an array".into() }
        );
        assert_eq!(insp.errors[1].line, 5);
        assert!(insp.errors[1].reason.starts_with("invalid JSON"), "{:?}", insp.errors[1]);
        let f: Vec<_> = insp.schema.fields.iter().map(|f| (f.name.as_str(), f.ty, f.nullable)).collect();
        assert_eq!(
            f,
            vec![
                ("n", FieldType::Number, false),
                ("text", FieldType::String, false),
                ("x", FieldType::Object, true)
            ]
        );
    }

    #[test]
    fn cells_with_leading_zeros_or_words_stay_strings() {
        assert_eq!(cell_kind("007"), Some(FieldType::String));
        assert_eq!(cell_kind("0"), Some(FieldType::Integer));
        assert_eq!(cell_kind("0.25"), Some(FieldType::Number));
        assert_eq!(cell_kind("-3"), Some(FieldType::Integer));
        assert_eq!(cell_kind("inf"), Some(FieldType::String));
        assert_eq!(cell_kind("1e3"), Some(FieldType::Number));
        assert_eq!(cell_kind("99999999999999999999"), Some(FieldType::Number));
        assert_eq!(cell_kind(""), None);
    }
}
