//! The built-in catalog: dated snapshots of LiteLLM's cost map and genai-prices'
//! data compiled into the binary (`catalog/`, refreshed by `scripts/update-catalog.sh`).
//!
//! The bytes are upstream's, zstd-compressed; they are decoded once, on first use,
//! through the same parsers as a `--pricing` file, so the built-in catalog prices
//! exactly like passing those files. `catalog/PROVENANCE.toml` says where each came
//! from (package, version, sha256 of the decoded bytes, snapshot date); it goes into
//! every manifest. Which entry prices which name is `matcher.rs`'s business.

use super::genai::GenaiData;
use super::litellm::LiteLlm;
use std::sync::OnceLock;

const LITELLM_ZST: &[u8] = include_bytes!("../../catalog/litellm-1.106.2.json.zst");
const GENAI_ZST: &[u8] = include_bytes!("../../catalog/genai-prices-0.1.4.json.zst");
/// `catalog/PROVENANCE.toml`, as committed.
pub const PROVENANCE: &str = include_str!("../../catalog/PROVENANCE.toml");
/// The licences of the embedded files, as committed.
pub const LICENCES: [(&str, &str); 2] = [
    ("LiteLLM", include_str!("../../catalog/LICENSE.litellm")),
    (
        "genai-prices",
        include_str!("../../catalog/LICENSE.genai-prices"),
    ),
];

/// Where one embedded catalog came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Catalog name as routesim shows it (`LiteLLM`, `genai-prices`).
    pub catalog: &'static str,
    /// Upstream package.
    pub package: String,
    /// Package version.
    pub version: String,
    /// Upstream project.
    pub upstream: String,
    /// Licence.
    pub licence: String,
    /// sha256 of the decoded bytes.
    pub sha256: String,
    /// Release date of the snapshot (YYYY-MM-DD).
    pub date: String,
    /// Which file of the package it is.
    pub file: String,
}

impl Snapshot {
    /// `LiteLLM 1.106.2 (2026-10-21)`.
    pub fn label(&self) -> String {
        format!("{} {} ({})", self.catalog, self.version, self.date)
    }

    /// The manifest's record of it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "catalog": self.catalog,
            "package": self.package,
            "version": self.version,
            "upstream": self.upstream,
            "licence": self.licence,
            "file": self.file,
            "sha256": self.sha256,
            "snapshot_date": self.date,
        })
    }
}

/// The decoded built-in catalogs.
#[derive(Debug)]
pub struct Builtin {
    /// LiteLLM's cost map.
    pub litellm: LiteLlm,
    /// genai-prices data.
    pub genai: GenaiData,
}

/// Provenance of the two embedded catalogs (LiteLLM, then genai-prices), read from
/// `PROVENANCE.toml` (cheap: no catalog is decoded).
pub fn snapshots() -> &'static [Snapshot; 2] {
    static S: OnceLock<[Snapshot; 2]> = OnceLock::new();
    S.get_or_init(|| {
        let doc: toml::Table = PROVENANCE.parse().expect("catalog/PROVENANCE.toml parses");
        let one = |section: &str, catalog: &'static str| {
            let t = doc[section].as_table().expect("a PROVENANCE section");
            let f = |k: &str| t[k].as_str().expect("a PROVENANCE field").to_string();
            Snapshot {
                catalog,
                package: f("package"),
                version: f("version"),
                upstream: f("upstream"),
                licence: f("licence"),
                sha256: f("sha256"),
                date: f("snapshot_date"),
                file: f("file"),
            }
        };
        [
            one("litellm", "LiteLLM"),
            one("genai-prices", "genai-prices"),
        ]
    })
}

/// The decompressed bytes of the LiteLLM and genai-prices snapshots.
pub fn raw() -> (Vec<u8>, Vec<u8>) {
    let d = |b: &[u8]| zstd::stream::decode_all(b).expect("embedded catalog decompresses");
    (d(LITELLM_ZST), d(GENAI_ZST))
}

/// The built-in catalogs, decoded on first use (a few tens of milliseconds).
pub fn get() -> &'static Builtin {
    static B: OnceLock<Builtin> = OnceLock::new();
    B.get_or_init(|| {
        let (l, g) = raw();
        let parse = |b: &[u8]| -> serde_json::Value {
            serde_json::from_slice(b).expect("embedded catalog is JSON")
        };
        Builtin {
            litellm: LiteLlm::from_json(&parse(&l)),
            genai: GenaiData::from_json(&parse(&g)).expect("embedded genai-prices data parses"),
        }
    })
}

/// Size of the embedded (compressed) catalogs in bytes.
pub fn embedded_bytes() -> usize {
    LITELLM_ZST.len() + GENAI_ZST.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn hex(b: &[u8]) -> String {
        Sha256::digest(b)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect()
    }

    #[test]
    fn decoded_bytes_are_the_ones_provenance_names() {
        let (l, g) = raw();
        let [sl, sg] = snapshots();
        assert_eq!(hex(&l), sl.sha256);
        assert_eq!(hex(&g), sg.sha256);
        assert_eq!(sl.version, "1.106.2");
        assert_eq!(sg.version, "0.1.4");
        // Sizes in PROVENANCE (written by the script from the same bytes).
        let doc: toml::Table = PROVENANCE.parse().unwrap();
        assert_eq!(doc["litellm"]["bytes"].as_integer(), Some(l.len() as i64));
        assert_eq!(
            doc["genai-prices"]["bytes"].as_integer(),
            Some(g.len() as i64)
        );
        assert!(LICENCES.iter().all(|(_, t)| t.contains("MIT License")));
    }

    #[test]
    fn parses_through_the_pricing_file_readers() {
        let b = get();
        // Counted independently (Python, on the decoded files): 3,392 LiteLLM keys
        // with both per-token input and output prices; 36 genai-prices providers.
        assert_eq!(b.litellm.len(), 3392);
        assert_eq!(b.genai.providers.len(), 36);
        let gpt4o = b.litellm.get("gpt-4o").unwrap();
        assert!((gpt4o.price.input.base - 2.5e-6).abs() < 1e-18);
        assert!((gpt4o.price.output.base - 10e-6).abs() < 1e-18);
    }
}
