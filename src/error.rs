//! Error types shared by every input reader.
//!
//! Bad input (a policy, dataset, pricing or provider file the user wrote) becomes an
//! [`InputError`]: a list of [`Diagnostic`]s, each naming the file, the place in it
//! (line and column, or row and column) and what was expected. Readers collect every
//! problem they can find before returning, so the user fixes a file in one pass.
//! Anything else (I/O failure mid-run, a provider that cannot be reached) is a runtime
//! error carried by `anyhow`. `main` maps the two to exit codes 1 and 2.

use std::fmt;
use std::path::Path;

/// Where in a file a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The whole file (it is missing, unreadable, empty…).
    File,
    /// A text position, 1-based line and column (TOML, JSON).
    Text {
        /// 1-based line.
        line: usize,
        /// 1-based column, counted in characters.
        col: usize,
    },
    /// A cell of a table (CSV, JSONL, Parquet): 1-based data row and column name.
    Cell {
        /// 1-based data row (the header is not counted; for JSONL, the line number).
        row: usize,
        /// Column (or JSON key) name.
        column: String,
    },
    /// A whole row of a table.
    Row(usize),
}

/// One problem in one input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file, as the user named it.
    pub file: String,
    /// Where in the file.
    pub location: Location,
    /// What is wrong and what was expected, as a sentence fragment.
    pub message: String,
}

impl Diagnostic {
    /// A problem with the whole file.
    pub fn file(file: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            location: Location::File,
            message: message.into(),
        }
    }

    /// A problem at a byte offset of `source`, converted to line and column.
    pub fn at_offset(
        file: impl Into<String>,
        source: &str,
        offset: usize,
        message: impl Into<String>,
    ) -> Self {
        let (line, col) = line_col(source, offset);
        Self {
            file: file.into(),
            location: Location::Text { line, col },
            message: message.into(),
        }
    }

    /// A problem in a table cell.
    pub fn cell(
        file: impl Into<String>,
        row: usize,
        column: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            file: file.into(),
            location: Location::Cell {
                row,
                column: column.into(),
            },
            message: message.into(),
        }
    }

    /// A problem with a whole table row.
    pub fn row(file: impl Into<String>, row: usize, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            location: Location::Row(row),
            message: message.into(),
        }
    }

    fn sort_key(&self) -> (String, usize, usize) {
        match &self.location {
            Location::File => (self.file.clone(), 0, 0),
            Location::Text { line, col } => (self.file.clone(), *line, *col),
            Location::Cell { row, .. } | Location::Row(row) => (self.file.clone(), *row, 0),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Location::File => write!(f, "{}: {}", self.file, self.message),
            Location::Text { line, col } => {
                write!(f, "{}:{}:{}: {}", self.file, line, col, self.message)
            }
            Location::Cell { row, column } => write!(
                f,
                "{}: row {}, column \"{}\": {}",
                self.file, row, column, self.message
            ),
            Location::Row(row) => write!(f, "{}: row {}: {}", self.file, row, self.message),
        }
    }
}

/// 1-based (line, column) of a byte offset; the column counts characters.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..floor_char_boundary(source, offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Invalid user input: every problem found, in file order. Exit code 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// The problems, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
}

impl InputError {
    /// Wrap a list of problems (sorted by file and position, duplicates removed).
    pub fn new(mut diagnostics: Vec<Diagnostic>) -> Self {
        diagnostics.sort_by_key(|d| d.sort_key());
        diagnostics.dedup();
        Self { diagnostics }
    }

    /// A single problem.
    pub fn one(d: Diagnostic) -> Self {
        Self {
            diagnostics: vec![d],
        }
    }

    /// A problem with a whole file.
    pub fn file(file: impl AsRef<Path>, message: impl Into<String>) -> Self {
        Self::one(Diagnostic::file(display_path(file.as_ref()), message))
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        if self.diagnostics.len() > 1 {
            write!(f, "\n{} errors", self.diagnostics.len())?;
        }
        Ok(())
    }
}

impl std::error::Error for InputError {}

/// Collects diagnostics while reading, then turns them into a result.
#[derive(Debug, Default)]
pub struct Diagnostics {
    list: Vec<Diagnostic>,
}

impl Diagnostics {
    /// An empty collection.
    pub fn new() -> Self {
        Self::default()
    }
    /// Record a problem.
    pub fn push(&mut self, d: Diagnostic) {
        self.list.push(d);
    }
    /// Record several problems.
    pub fn extend(&mut self, ds: impl IntoIterator<Item = Diagnostic>) {
        self.list.extend(ds);
    }
    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
    /// Number of problems recorded so far.
    pub fn len(&self) -> usize {
        self.list.len()
    }
    /// `Ok(value)` when nothing was recorded, else every problem as one [`InputError`].
    pub fn finish<T>(self, value: T) -> Result<T, InputError> {
        if self.list.is_empty() {
            Ok(value)
        } else {
            Err(InputError::new(self.list))
        }
    }
    /// The problems recorded so far.
    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.list
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.list.into_iter()
    }
}

/// A path as shown in messages (as given, lossy UTF-8).
pub fn display_path(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The closest of `candidates` to `word`, if close enough to suggest ("did you mean …?").
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(&str, usize)> = None;
    for c in candidates {
        let d = edit_distance(&word.to_lowercase(), &c.to_lowercase());
        let limit = (c.len().max(word.len()) / 3).max(1);
        if d <= limit && d < c.len().max(word.len()) && best.is_none_or(|(_, bd)| d < bd) {
            best = Some((c, d));
        }
    }
    best.map(|(c, _)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let sub = prev[j - 1] + usize::from(a[i - 1] != b[j - 1]);
            cur[j] = sub.min(prev[j] + 1).min(cur[j - 1] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one_in_characters() {
        let s = "ab\ncé d\n";
        assert_eq!(line_col(s, 0), (1, 1));
        assert_eq!(line_col(s, 3), (2, 1));
        // "é" is two bytes; offset 6 is the space after it, the 3rd character.
        assert_eq!(line_col(s, 6), (2, 3));
    }

    #[test]
    fn diagnostics_render_with_location() {
        let d = Diagnostic::at_offset("p.toml", "a = 1\nb = x\n", 10, "expected a value");
        assert_eq!(d.to_string(), "p.toml:2:5: expected a value");
        let c = Diagnostic::cell("r.csv", 3, "output_tokens", "expected an integer");
        assert_eq!(
            c.to_string(),
            "r.csv: row 3, column \"output_tokens\": expected an integer"
        );
    }

    #[test]
    fn suggest_finds_near_misses_only() {
        let keys = ["timeout_ms", "retries", "max_output_tokens"];
        assert_eq!(suggest("timeout", keys), Some("timeout_ms"));
        assert_eq!(suggest("retires", keys), Some("retries"));
        assert_eq!(suggest("zzz", keys), None);
    }
}
