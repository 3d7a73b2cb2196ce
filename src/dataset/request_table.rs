//! Requests stored column by column as they are read (no row objects kept): ids with
//! a hash index that refers back to them (each id stored once), timestamps, prompts in
//! one text buffer, and metadata already dictionary-coded. At 10M requests this is the
//! difference between a few hundred bytes per request and a few dozen.

use super::build::{MetaValue, RequestRow};
use super::records::{MetaKey, fmt_num};
use super::{MetaColumn, TextColumn};
use crate::util::hash::FnvBuild;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

/// A hasher for keys that are already hashes.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 keys")
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = x;
    }
}

/// Request ids and their positions: the map keeps a 64-bit hash per id (the id itself
/// lives once, in `ids`); ids whose hash is taken by another id go to `others`.
#[derive(Debug)]
pub struct IdIndex {
    /// Ids in order of declaration.
    pub ids: Vec<String>,
    by_hash: HashMap<u64, u32, BuildHasherDefault<Identity>>,
    others: HashMap<String, u32, FnvBuild>,
    /// Unique per index made in this process: a cache of positions (the readers'
    /// per-thread one) is only valid for the index it was filled from.
    generation: u64,
}

impl Default for IdIndex {
    fn default() -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        IdIndex {
            ids: Vec::new(),
            by_hash: HashMap::default(),
            others: HashMap::default(),
            generation: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }
}

fn hash_of(id: &str) -> u64 {
    let mut h = FnvBuild::default().build_hasher();
    h.write(id.as_bytes());
    h.finish()
}

impl IdIndex {
    /// Position of `id`.
    #[inline]
    pub fn get(&self, id: &str) -> Option<u32> {
        match self.by_hash.get(&hash_of(id)) {
            Some(&i) if self.ids[i as usize] == id => Some(i),
            Some(_) => self.others.get(id).copied(),
            None => None,
        }
    }

    /// Add `id` at the next position; `Err(position)` when it is already there.
    pub fn insert(&mut self, id: String) -> Result<u32, u32> {
        if let Some(i) = self.get(&id) {
            return Err(i);
        }
        let i = self.ids.len() as u32;
        match self.by_hash.entry(hash_of(&id)) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(i);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.others.insert(id.clone(), i);
            }
        }
        self.ids.push(id);
        Ok(i)
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// This index's identity in the process (see the field).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// One metadata column being built.
#[derive(Debug)]
struct MetaBuilder {
    col: MetaColumn,
    index: HashMap<MetaKey, u32, FnvBuild>,
}

/// The request columns as read (ids are kept apart, in an [`IdIndex`]).
#[derive(Debug, Default)]
pub struct RequestTable {
    /// Arrival times (epoch ms), [`super::Requests::NO_TS`] when absent.
    pub ts_ms: Vec<i64>,
    /// Prompts ("" when absent).
    pub input: TextColumn,
    /// User turns (1 when not given).
    pub turns: Vec<u16>,
    /// Prompt tokens given by the request itself.
    pub input_tokens: Vec<Option<u32>>,
    /// Reference answers (from the first request that has one; "" before).
    pub reference: Option<TextColumn>,
    meta: Vec<MetaBuilder>,
    meta_pos: HashMap<MetaKey, usize, FnvBuild>,
}

impl RequestTable {
    /// Append the fields of request `row` (its id is stored by the caller).
    pub fn push(&mut self, row: RequestRow) {
        let i = self.ts_ms.len();
        self.ts_ms.push(row.ts_ms.unwrap_or(super::Requests::NO_TS));
        self.input.push(row.input.as_deref().unwrap_or(""));
        self.turns.push(row.turns.unwrap_or(1));
        self.input_tokens.push(row.input_tokens);
        if row.reference.is_some() && self.reference.is_none() {
            let mut col = TextColumn::new();
            (0..i).for_each(|_| col.push(""));
            self.reference = Some(col);
        }
        if let Some(col) = self.reference.as_mut() {
            col.push(row.reference.as_deref().unwrap_or(""));
        }
        for (k, v) in row.meta {
            let c = match self.meta_pos.get(&k) {
                Some(&c) => c,
                None => {
                    let c = self.meta.len();
                    self.meta.push(MetaBuilder {
                        col: MetaColumn::new(k.to_string(), vec![MetaColumn::NONE; i], Vec::new()),
                        index: HashMap::default(),
                    });
                    self.meta_pos.insert(k, c);
                    c
                }
            };
            let m = &mut self.meta[c];
            m.col.codes.resize(i + 1, MetaColumn::NONE);
            let s: MetaKey = match v {
                MetaValue::Str(s) => s,
                MetaValue::Num(x) => fmt_num(x).into(),
            };
            let code = match m.index.get(&s) {
                Some(&code) => code,
                None => {
                    let code = m.col.push_value(s.to_string());
                    m.index.insert(s, code);
                    code
                }
            };
            m.col.codes[i] = code;
        }
    }

    /// Requests stored.
    pub fn len(&self) -> usize {
        self.ts_ms.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ts_ms.is_empty()
    }

    /// The metadata columns, each as long as the table.
    pub fn take_meta(&mut self) -> Vec<MetaColumn> {
        let n = self.len();
        std::mem::take(&mut self.meta)
            .into_iter()
            .map(|mut m| {
                m.col.codes.resize(n, MetaColumn::NONE);
                m.col
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_with_the_same_hash_are_both_found() {
        let mut ix = IdIndex::default();
        assert_eq!(ix.insert("a".into()), Ok(0));
        assert_eq!(ix.insert("b".into()), Ok(1));
        assert_eq!(ix.insert("a".into()), Err(0));
        // Force a collision: an id filed under another's hash.
        let h = hash_of("a");
        ix.by_hash.insert(h, 1);
        ix.others.insert("a".into(), 0);
        assert_eq!(ix.get("a"), Some(0));
        assert_eq!(ix.get("b"), Some(1));
        assert_eq!(ix.get("c"), None);
    }

    #[test]
    fn metadata_columns_are_coded_in_order_of_appearance() {
        let mut t = RequestTable::default();
        let row = |meta: Vec<(&str, MetaValue)>| RequestRow {
            meta: meta.into_iter().map(|(k, v)| (k.into(), v)).collect(),
            ..RequestRow::default()
        };
        t.push(row(vec![("task", MetaValue::Str("code".into()))]));
        t.push(row(vec![("n", MetaValue::Num(3.0))]));
        t.push(row(vec![
            ("task", MetaValue::Str("chat".into())),
            ("n", MetaValue::Str("4".into())),
        ]));
        t.push(row(vec![]));
        let meta = t.take_meta();
        assert_eq!(meta[0].name, "task");
        assert_eq!(meta[0].dict, ["code", "chat"]);
        assert_eq!(meta[0].codes, [0, MetaColumn::NONE, 1, MetaColumn::NONE]);
        assert_eq!(meta[1].dict, ["3", "4"]);
        assert_eq!(meta[1].codes, [MetaColumn::NONE, 0, 1, MetaColumn::NONE]);
        assert_eq!((meta[1].num(1), meta[1].num(2)), (3.0, 4.0));
        assert!(meta[0].num(0).is_nan() && meta[1].num(0).is_nan());
    }
}
