//! `routesim import-config litellm|portkey FILE`: a gateway's config → a policy
//! file. The importer (`policy::import`) writes the text; this command checks that it
//! parses (a round trip through the policy parser) and, with `--dataset`, that it
//! binds to the dataset, then writes it (atomically) or prints it, with every
//! setting not reproduced exactly listed on stderr.

use crate::dataset::{self, LoadOptions};
use crate::error::{Diagnostic, InputError, display_path};
use crate::policy;
use crate::policy::import::{Columns, ImportOptions, Imported, Kind};
use crate::pricing::{ModelPrice, PriceBook, today_days};
use crate::sim::{self, SimOptions};
use anyhow::Result;
use std::path::{Path, PathBuf};

/// Which gateway's config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigGateway {
    /// LiteLLM proxy `config.yaml`.
    Litellm,
    /// Portkey config JSON.
    Portkey,
}

/// Options of `routesim import-config`.
#[derive(Debug, Clone)]
pub struct ImportConfigOptions {
    /// The gateway.
    pub gateway: ConfigGateway,
    /// Its config file.
    pub file: PathBuf,
    /// Policy file to write (default: print it).
    pub out: Option<PathBuf>,
    /// Dataset the policy is for (model names resolved to its columns; bound).
    pub dataset: Option<PathBuf>,
    /// Pricing file to write (aliases and custom prices).
    pub pricing_out: Option<PathBuf>,
    /// Policy name (default: the config file's stem).
    pub name: Option<String>,
    /// Fail (exit 1) when any routing setting is not reproduced exactly.
    pub strict: bool,
}

/// What a dataset offers an importer.
pub fn columns_of(ds: &dataset::Dataset) -> Columns {
    let r = &ds.requests;
    let mut asked: Vec<String> = r
        .meta_index("asked_model")
        .map(|i| r.meta[i].dict.clone())
        .unwrap_or_default();
    asked.sort();
    asked.dedup();
    Columns {
        models: ds.models.iter().map(|m| m.to_string()).collect(),
        asked_models: asked,
        has_text: !r.input.all_empty(),
        meta_keys: r.meta.iter().map(|m| m.name.clone()).collect(),
    }
}

/// A policy name from a file stem: no '/', '\' or ',' (the parser refuses them).
fn name_of(file: &Path) -> String {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "imported".into());
    let s: String = stem
        .chars()
        .map(|c| {
            if matches!(c, '/' | '\\' | ',') {
                '-'
            } else {
                c
            }
        })
        .collect();
    if s.trim().is_empty() {
        "imported".into()
    } else {
        s
    }
}

/// Import, check and return the policy text (and the pricing text).
pub fn import_text(o: &ImportConfigOptions) -> Result<(Imported, String)> {
    let file = display_path(&o.file);
    let text = std::fs::read_to_string(&o.file)
        .map_err(|e| InputError::file(&o.file, format!("cannot read: {e}")))?;
    let ds = match &o.dataset {
        Some(d) => Some(dataset::load(d, &LoadOptions::default())?),
        None => None,
    };
    let opts = ImportOptions {
        file: file.clone(),
        name: o.name.clone().unwrap_or_else(|| name_of(&o.file)),
        columns: ds.as_ref().map(columns_of),
        pricing_out: o.pricing_out.is_some(),
    };
    if let Some(n) = &o.name
        && (n.trim().is_empty() || n.contains(['/', '\\', ',']))
    {
        return Err(InputError::one(Diagnostic::file(
            "--name",
            "expected a non-empty name without '/', '\\' or ','",
        ))
        .into());
    }
    let imported = match o.gateway {
        ConfigGateway::Litellm => policy::import::litellm::import(&text, &opts)?,
        ConfigGateway::Portkey => policy::import::portkey::import(&text, &opts)?,
    };
    let policy_text = imported.policy.render();
    let shown = o
        .out
        .as_deref()
        .map(display_path)
        .unwrap_or_else(|| "the imported policy".into());
    // Round trip: the text must parse as a policy.
    let parsed = policy::parse(&shown, &policy_text, &opts.name).map_err(|e| {
        anyhow::anyhow!(
            "internal error: the policy imported from {file} does not parse — please report it:\n{e}\n--- policy ---\n{policy_text}"
        )
    })?;
    if let Some(ds) = &ds {
        let book = PriceBook::load(&ds.pricing_files, today_days())?;
        let prices = book.resolve(&ds.models).unwrap_or_else(|_| {
            ds.models
                .iter()
                .map(|_| ModelPrice::per_mtok(0.0, 0.0, "validation"))
                .collect()
        });
        if let Err(e) = sim::bind_all(ds, &prices, &[parsed], &SimOptions::default()) {
            let mut diags = e.diagnostics;
            diags.push(Diagnostic::file(
                &shown,
                format!(
                    "the policy imported from {file} does not bind to the dataset {} (above); the text was not written",
                    ds.info.name
                ),
            ));
            return Err(InputError::new(diags).into());
        }
    }
    Ok((imported, policy_text))
}

/// `routesim import-config`.
pub fn import_config(o: &ImportConfigOptions) -> Result<()> {
    let (imported, text) = import_text(o)?;
    let un = &imported.policy.unmapped;
    let routing = un.iter().filter(|u| u.kind != Kind::Ignored).count();
    if !un.is_empty() {
        eprintln!(
            "{}: {} settings not reproduced exactly ({} approximated or unmapped, {} not routing):",
            display_path(&o.file),
            un.len(),
            routing,
            un.len() - routing
        );
        for u in un {
            eprintln!("  {u}");
        }
    }
    if o.strict && routing > 0 {
        return Err(InputError::one(Diagnostic::file(
            display_path(&o.file),
            format!(
                "--strict: {routing} routing settings are not reproduced exactly (listed above); nothing written"
            ),
        ))
        .into());
    }
    if let Some(p) = &o.pricing_out {
        let body = imported.pricing.clone().unwrap_or_else(|| {
            format!(
                "# {} names no custom prices or provider models to alias.\n",
                display_path(&o.file)
            )
        });
        crate::util::files::write_atomic(p, body.as_bytes())?;
        eprintln!("pricing written to {}", p.display());
    }
    match &o.out {
        Some(p) => {
            crate::util::files::write_atomic(p, text.as_bytes())?;
            let n = imported.policy.rules.len();
            println!(
                "policy written to {} ({n} rules){}",
                p.display(),
                if o.dataset.is_some() {
                    ", checked against the dataset"
                } else {
                    ""
                }
            );
        }
        None => {
            use std::io::Write as _;
            std::io::stdout().write_all(text.as_bytes())?;
        }
    }
    Ok(())
}
