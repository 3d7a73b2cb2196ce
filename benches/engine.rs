//! Engine throughput: decisions per second over 1M synthetic requests × 8 models.
//!
//! - `stateless`: a 3-rule policy (metadata, prompt text, length) with fallbacks and
//!   retries, chunked across threads.
//! - `stateful`: latency-based routing + cooldown + rpm limits in virtual time.
//!
//! Run: `cargo bench --bench engine` (set ROUTESIM_BENCH_N to change the size).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use routesim::policy::parse;
use routesim::sim::{SimOptions, Simulation};
use routesim::synth::{SynthConfig, calibrate, generate};

const STATELESS: &str = r#"
name = "three-rules"
[gateway]
retries = { max = 1, backoff_ms = 200, on = ["429", "5xx"] }
[[rule]]
name = "coding"
when = { meta.task = "coding" }
route.fallback = ["anthropic/claude-3.5-sonnet", "openai/gpt-4o"]
[[rule]]
name = "analysis"
when = { input = { contains_any = ["explain", "analyze"] } }
route.fallback = ["openai/gpt-4o", "google/gemini-1.5-pro"]
[[rule]]
name = "short"
when = { input_chars = { lt = 50 } }
route = { model = "openai/gpt-4o-mini", fallbacks = ["google/gemini-1.5-flash"] }
[default]
route.split = { "google/gemini-1.5-flash" = 70, "anthropic/claude-3.5-haiku" = 30 }
"#;

const STATEFUL: &str = r#"
name = "latency-cooldown-rpm"
[models]
gpt4o = { model = "openai/gpt-4o", rpm = 600 }
sonnet = { model = "anthropic/claude-3.5-sonnet", rpm = 600 }
pro = { model = "google/gemini-1.5-pro", rpm = 600 }
[gateway]
cooldown = { allowed_fails = 3, window_s = 60, cooldown_s = 5 }
retries = { max = 1, on = ["429", "5xx"] }
[default]
route.lowest_latency = { candidates = ["gpt4o", "sonnet", "pro"], window = 10, buffer = 0.1 }
route.fallbacks = ["openai/gpt-4o-mini"]
"#;

fn bench(c: &mut Criterion) {
    let n: usize = std::env::var("ROUTESIM_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let cal = calibrate(None);
    let mut cfg = SynthConfig::new(n, 8, 7);
    // ~200 requests/s of traffic: enough to exercise rpm limits and cooldowns.
    cfg.days = n as f64 / 200.0 / 86_400.0;
    let ds = generate(&cfg, &cal);
    let mut g = c.benchmark_group("engine");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    // One thread gives the per-core figure; all threads the machine's.
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    for (name, src, single) in [
        ("stateless_3_rules/1_thread", STATELESS, true),
        ("stateless_3_rules/all_threads", STATELESS, false),
        ("stateful_latency_cooldown_rpm/1_thread", STATEFUL, true),
    ] {
        let policies = vec![parse::parse(name, src, "bench").expect("bench policy parses")];
        let opts = SimOptions::default();
        // Binding (and arrivals) once, outside the measurement: the engine alone.
        let sim =
            Simulation::new(&ds, &cal.prices, &policies, &opts).unwrap_or_else(|_| panic!("binds"));
        let run = || {
            let t = sim.run(&[0]).unwrap_or_else(|_| panic!("run"));
            std::hint::black_box(t[0].rows.len())
        };
        g.bench_function(name, |b| {
            b.iter(|| if single { one.install(run) } else { run() })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
