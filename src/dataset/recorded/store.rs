//! The append-only store of recorded responses (`recorded.jsonl` in the dataset folder).
//!
//! One JSON line per call outcome, in the dataset's long layout, so dataset readers see
//! recorded cells like any others. A writer thread appends each record with a single
//! `write` as soon as it arrives (so a killed process keeps every completed response)
//! and `fsync`s in batches (so an OS crash loses at most the last batch). Opening the
//! store repairs a torn last line and returns the cells already recorded, so a re-run
//! resumes and never duplicates a cell.
//!
//! LLM-judge verdicts go to a second store beside it (`judged.jsonl`, [`JudgeRecord`]):
//! the answer is stored the moment it arrives, the (slower, separately paid) judge call
//! comes after, so a crash between the two loses no answer — the next run judges the
//! stored answers that have no verdict yet.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

/// One recorded call.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Record {
    /// Request id.
    pub request_id: String,
    /// Dataset model name.
    pub model: String,
    /// Sample number (0-based).
    pub sample: u32,
    /// `ok`, an HTTP code, `timeout` or `error`.
    pub status: String,
    /// Answer text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Prompt tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u32>,
    /// Completion tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u32>,
    /// Cached prompt tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<u32>,
    /// Prompt tokens written to the provider's cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_tokens: Option<u32>,
    /// Reasoning tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u32>,
    /// Latency of the final attempt, ms.
    pub latency_ms: f64,
    /// Time to first token, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<f64>,
    /// Last `retry-after`, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<f64>,
    /// Quality from the dataset's scorer (absent: unlabelled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<f64>,
    /// Cost, USD: what the gateway reported, else the usage at list price (see
    /// `cost_source`); 0 for a failure the gateway did not bill.
    pub cost_usd: f64,
    /// Where `cost_usd` comes from: `gateway` (reported by it), `price` (the model's
    /// list price), `served price` (the list price of the model that answered in its
    /// place), `asked price` (that model has no price: the one asked for was used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_source: Option<String>,
    /// The model that answered when it is not the one asked for (a gateway fallback,
    /// a router's pick): its dataset name when providers.toml maps it, else the name
    /// the response gave. Absent when the model asked for answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served_model: Option<String>,
    /// The model id the response reported (LiteLLM's `x-litellm-model-name`, else the
    /// body's `model`), as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served_id: Option<String>,
    /// The response's id (`chatcmpl-…`): the key into the gateway's own logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_id: Option<String>,
    /// Provider name.
    pub provider: String,
    /// Calls made for this cell (retries included).
    pub attempts: u32,
    /// Calls in flight the recording allowed to this provider: a gateway queues
    /// calls, so the recorded latency depends on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// Error text (redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When it was recorded (UTC).
    pub recorded_at: String,
}

/// Columns of [`Record`] that the long reader does not turn into a response field:
/// bookkeeping of the recording (known, so never reported as ignored columns).
pub const BOOKKEEPING_COLUMNS: &[&str] = &[
    "cost_source",
    "served_id",
    "response_id",
    "attempts",
    "concurrency",
    "error",
    "recorded_at",
];

/// File name of the store inside a dataset folder.
pub const STORE_FILE: &str = "recorded.jsonl";

/// File name of the judge verdicts inside a dataset folder.
pub const JUDGED_FILE: &str = "judged.jsonl";

/// One LLM-judge verdict on a recorded answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JudgeRecord {
    /// Request id.
    pub request_id: String,
    /// Dataset model name of the judged answer.
    pub model: String,
    /// Sample number of the judged answer.
    pub sample: u32,
    /// The judge, as `provider/model`.
    pub judge: String,
    /// `ok`, an HTTP code, `timeout` or `error` (of the judge call).
    pub status: String,
    /// Score in 0..1; absent when the verdict could not be parsed or the call failed
    /// (a missing label, never 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<f64>,
    /// The verdict text (first 2,000 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    /// Cost of the judge call, USD.
    pub cost_usd: f64,
    /// When it was recorded (UTC).
    pub recorded_at: String,
}

impl Record {
    /// The cell this record fills.
    pub fn key(&self) -> CellKey {
        (self.request_id.clone(), self.model.clone(), self.sample)
    }
}

impl JudgeRecord {
    /// The cell this verdict is about.
    pub fn key(&self) -> CellKey {
        (self.request_id.clone(), self.model.clone(), self.sample)
    }
}

/// An open append-only store of `T` lines with its writer thread.
pub struct Store<T = Record> {
    tx: Option<mpsc::Sender<T>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<usize>>>,
    /// Path of the file.
    pub path: PathBuf,
}

/// Cell key: (request id, model, sample).
pub type CellKey = (String, String, u32);

/// Read the response store, tolerating a torn last line; returns records in order.
pub fn read(path: &Path) -> std::io::Result<Vec<Record>> {
    read_as(path)
}

/// Read a store of `T` lines (e.g. [`JudgeRecord`]), tolerating a torn last line.
pub fn read_as<T: DeserializeOwned>(path: &Path) -> std::io::Result<Vec<T>> {
    let mut text = String::new();
    match std::fs::File::open(path) {
        Ok(mut f) => {
            f.read_to_string(&mut text)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    }
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    let mut out = Vec::new();
    for (i, line) in complete.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let r: T = serde_json::from_str(line).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: line {}: {e}", path.display(), i + 1),
            )
        })?;
        out.push(r);
    }
    Ok(out)
}

impl Store<Record> {
    /// Open (or create) the response store: repair a torn last line, return the
    /// recorded cells.
    pub fn open(path: &Path) -> std::io::Result<(Store<Record>, HashSet<CellKey>)> {
        let (store, records) = Store::open_with(path)?;
        Ok((store, records.iter().map(Record::key).collect()))
    }
}

impl<T: Serialize + DeserializeOwned + Send + 'static> Store<T> {
    /// Open (or create) a store of `T`: repair a torn last line, return its records.
    pub fn open_with(path: &Path) -> std::io::Result<(Store<T>, Vec<T>)> {
        let records: Vec<T> = read_as(path)?;
        Ok((Store::append(path)?, records))
    }

    /// Open (or create) a store of `T` for appending, without reading its records:
    /// a torn last line (a write cut by a crash) is cut off first.
    pub fn append(path: &Path) -> std::io::Result<Store<T>> {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(path)?;
        let len = f.metadata()?.len();
        if len > 0 {
            let mut text = Vec::new();
            f.read_to_end(&mut text)?;
            let keep = text
                .iter()
                .rposition(|&b| b == b'\n')
                .map(|i| i + 1)
                .unwrap_or(0) as u64;
            if keep < len {
                f.set_len(keep)?;
                f.sync_all()?;
            }
        }
        f.seek(std::io::SeekFrom::End(0))?;
        let (tx, rx) = mpsc::channel::<T>();
        let thread = std::thread::spawn(move || writer(f, rx));
        Ok(Store {
            tx: Some(tx),
            thread: Some(thread),
            path: path.to_path_buf(),
        })
    }

    /// A handle for appending records from any thread.
    pub fn sender(&self) -> mpsc::Sender<T> {
        self.tx.clone().expect("store is open")
    }

    /// Flush, fsync and close; returns the number of records written.
    pub fn close(mut self) -> std::io::Result<usize> {
        self.tx.take();
        match self.thread.take() {
            Some(t) => t
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("store writer panicked"))),
            None => Ok(0),
        }
    }
}

impl<T> Drop for Store<T> {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Records between two fsyncs at most.
const SYNC_EVERY: usize = 32;

fn writer<T: Serialize>(mut f: std::fs::File, rx: mpsc::Receiver<T>) -> std::io::Result<usize> {
    let mut written = 0usize;
    let mut unsynced = 0usize;
    let mut line = Vec::with_capacity(1024);
    loop {
        let rec = match rx.try_recv() {
            Ok(r) => r,
            Err(mpsc::TryRecvError::Empty) => {
                if unsynced > 0 {
                    f.sync_data()?;
                    unsynced = 0;
                }
                match rx.recv() {
                    Ok(r) => r,
                    Err(_) => break,
                }
            }
            Err(mpsc::TryRecvError::Disconnected) => break,
        };
        line.clear();
        serde_json::to_writer(&mut line, &rec)?;
        line.push(b'\n');
        // One write per record: a killed process never leaves half a line.
        f.write_all(&line)?;
        written += 1;
        unsynced += 1;
        if unsynced >= SYNC_EVERY {
            f.sync_data()?;
            unsynced = 0;
        }
    }
    f.sync_data()?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str) -> Record {
        Record {
            request_id: id.into(),
            model: "m".into(),
            sample: 0,
            status: "ok".into(),
            output: Some("x".into()),
            input_tokens: Some(3),
            output_tokens: Some(1),
            cached_tokens: None,
            cache_write_tokens: None,
            reasoning_tokens: None,
            latency_ms: 10.0,
            ttft_ms: None,
            retry_after_ms: None,
            quality: None,
            cost_usd: 0.0,
            cost_source: None,
            served_model: None,
            served_id: None,
            response_id: None,
            provider: "p".into(),
            attempts: 1,
            concurrency: None,
            error: None,
            recorded_at: "t".into(),
        }
    }

    #[test]
    fn appends_resumes_and_repairs_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STORE_FILE);
        let (s, done) = Store::open(&path).unwrap();
        assert!(done.is_empty());
        s.sender().send(rec("a")).unwrap();
        s.sender().send(rec("b")).unwrap();
        assert_eq!(s.close().unwrap(), 2);
        // A torn write at the end (power loss) is dropped on the next open.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"{\"request_id\":\"c\",\"mod").unwrap();
        drop(f);
        let (s, done) = Store::open(&path).unwrap();
        assert_eq!(done.len(), 2);
        assert!(done.contains(&("a".into(), "m".into(), 0)));
        s.sender().send(rec("c")).unwrap();
        s.close().unwrap();
        let all = read(&path).unwrap();
        assert_eq!(
            all.iter()
                .map(|r| r.request_id.as_str())
                .collect::<Vec<_>>(),
            vec!["a", "b", "c"]
        );
    }
}
