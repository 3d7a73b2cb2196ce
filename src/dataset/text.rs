//! A column of strings stored in one buffer with offsets (no per-row allocation).

/// Many strings in one buffer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextColumn {
    data: String,
    /// `offsets[i]..offsets[i+1]` is row i; starts with 0.
    offsets: Vec<usize>,
}

impl TextColumn {
    /// An empty column.
    pub fn new() -> Self {
        Self {
            data: String::new(),
            offsets: vec![0],
        }
    }

    /// A column of `n` empty strings.
    pub fn empty_rows(n: usize) -> Self {
        Self {
            data: String::new(),
            offsets: vec![0; n + 1],
        }
    }

    /// Append a row.
    pub fn push(&mut self, s: &str) {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        self.data.push_str(s);
        self.offsets.push(self.data.len());
    }

    /// Row `i`.
    #[inline]
    pub fn get(&self, i: usize) -> &str {
        &self.data[self.offsets[i]..self.offsets[i + 1]]
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether every row is empty.
    pub fn all_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Build from an iterator of strings.
    pub fn from_iter_str<'a>(it: impl IntoIterator<Item = &'a str>) -> Self {
        let mut c = Self::new();
        for s in it {
            c.push(s);
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_rows_in_order() {
        let c = TextColumn::from_iter_str(["ab", "", "cé"]);
        assert_eq!(c.len(), 3);
        assert_eq!(c.get(0), "ab");
        assert_eq!(c.get(1), "");
        assert_eq!(c.get(2), "cé");
        assert!(TextColumn::empty_rows(2).all_empty());
        assert_eq!(TextColumn::empty_rows(2).len(), 2);
    }
}
