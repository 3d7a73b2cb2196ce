//! Invariants of the name matcher over the built-in catalog (proptest): a catalog key
//! always finds its own price or asks; the verdict is a match exactly when the
//! deciding level has one price; $0 entries never match but by their exact key.
use proptest::prelude::*;
use routesim::pricing::builtin;
use routesim::pricing::matcher::{Found, Index, Source};
use routesim::pricing::{PriceBook, Resolution};
use std::sync::OnceLock;

const DAY: i64 = 20_790; // 2026-12-03

fn keys() -> &'static Vec<String> {
    static K: OnceLock<Vec<String>> = OnceLock::new();
    K.get_or_init(|| {
        builtin::get()
            .litellm
            .entries()
            .iter()
            .filter(|e| e.is_text() && !(e.price.input.base == 0.0 && e.price.output.base == 0.0))
            .map(|e| e.key.clone())
            .collect()
    })
}

fn book() -> PriceBook {
    PriceBook::load(&[], DAY).unwrap().with_builtin(true)
}

fn index() -> &'static Index {
    static I: OnceLock<Index> = OnceLock::new();
    I.get_or_init(|| {
        let b = builtin::get();
        Index::build(&[Source::LiteLlm(&b.litellm), Source::Genai(&b.genai)])
    })
}

/// A name as logs write them: a catalog key, maybe re-cased, maybe with a provider
/// prefix or an `@provider` suffix, maybe only its last path segment.
fn name() -> impl Strategy<Value = String> {
    (
        0..keys().len(),
        any::<u64>(),
        prop::sample::select(vec!["", "openai/", "together/", "google/", "acme/"]),
        prop::sample::select(vec!["", "@together", "@openai", "@deepinfra", "@20240620"]),
        any::<bool>(),
    )
        .prop_map(|(i, case, prefix, suffix, last_only)| {
            let k = &keys()[i];
            let base = if last_only {
                k.rsplit('/').next().unwrap()
            } else {
                k.as_str()
            };
            let cased: String = base
                .chars()
                .enumerate()
                .map(|(j, c)| {
                    if case >> (j % 64) & 1 == 1 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect();
            format!("{prefix}{cased}{suffix}")
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 120, failure_persistence: None, .. ProptestConfig::default() })]

    #[test]
    fn a_catalog_key_finds_its_own_price_or_asks(i in 0..keys().len()) {
        let key = &keys()[i];
        let own = builtin::get().litellm.get(key).unwrap().price.clone();
        match book().resolve_name(key) {
            Resolution::Priced(p, m) => {
                prop_assert_eq!(m.level, 1);
                prop_assert!((p.input.base - own.input.base).abs() <= 1e-9 * own.input.base.abs());
                prop_assert!((p.output.base - own.output.base).abs() <= 1e-9 * own.output.base.abs());
            }
            Resolution::Ambiguous(a) => {
                prop_assert_eq!(a.level, 1);
                let want = format!("litellm:{key}");
                prop_assert!(a.candidates.iter().any(|c| c.entry == want));
            }
            Resolution::Unpriced(..) => prop_assert!(false, "{key} unpriced"),
        }
    }

    #[test]
    fn the_verdict_is_a_match_exactly_when_one_price_decides(n in name()) {
        let b = builtin::get();
        let src = [Source::LiteLlm(&b.litellm), Source::Genai(&b.genai)];
        let found = index().find(&src, &n, DAY);
        let deciding = found.deciding(false);
        // One level, and no $0 entry unless by its exact key.
        for c in &deciding {
            prop_assert_eq!(Some(c.level), found.level());
            if c.price.input.base == 0.0 && c.price.output.base == 0.0 {
                prop_assert_eq!((c.level, c.sub), (1, 0), "{}", c.entry);
            }
        }
        let prices = Found::prices(&deciding).len();
        match book().resolve_name(&n) {
            Resolution::Priced(p, m) => {
                prop_assert_eq!(prices, 1);
                prop_assert_eq!(&m.entry, &deciding[0].entry);
                prop_assert_eq!(p.input.base, deciding[0].price.input.base);
            }
            Resolution::Ambiguous(a) => {
                prop_assert!(prices >= 2);
                prop_assert_eq!(a.candidates.len(), deciding.len());
            }
            Resolution::Unpriced(..) => prop_assert!(deciding.is_empty()),
        }
        // Deterministic: the same name, the same ranked candidates.
        let again = index().find(&src, &n, DAY);
        let e = |f: &Found| f.deciding(false).iter().map(|c| c.entry.clone()).collect::<Vec<_>>();
        prop_assert_eq!(e(&found), e(&again));
    }
}
