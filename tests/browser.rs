//! The HTML report in headless Chromium: it renders (screenshot) with no console
//! errors and loads nothing from the network. Skipped when Chromium is not installed.

use std::process::Command;

fn chromium() -> Option<String> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|b| {
            Command::new("sh")
                .arg("-c")
                .arg(format!("command -v {b}"))
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        })
}

#[test]
fn report_page_renders_in_headless_chromium_without_console_errors() {
    let Some(browser) = chromium() else {
        eprintln!("SKIPPED: chromium is not installed (apt-get install chromium)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report");
    let st = Command::new(env!("CARGO_BIN_EXE_routesim"))
        .args(["run", "--example", "--bootstrap", "200", "-o"])
        .arg(&report)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let profile = dir.path().join("profile");
    let shot = report.join("screenshot.png");
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1400,6000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", report.join("index.html").display()))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    let png = std::fs::read(&shot).expect("screenshot written");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 50_000, "the page has content");
    for bad in [":CONSOLE", "net::ERR_", "Failed to load resource"] {
        assert!(!log.contains(bad), "{bad} in chromium log:\n{log}");
    }
}

/// A Chrome DevTools Protocol connection over `--remote-debugging-pipe` (commands on
/// the browser's fd 3, answers on fd 4, each message ended by a NUL byte), driven
/// from std only: the browser runs under `sh`, which maps our pipes to those fds.
struct Cdp {
    child: std::process::Child,
    tx: std::process::ChildStdin,
    rx: std::io::BufReader<std::process::ChildStdout>,
    id: u64,
    session: Option<String>,
    events: Vec<serde_json::Value>,
}

impl Cdp {
    fn launch(browser: &str, profile: &std::path::Path, log: &std::path::Path) -> Cdp {
        let script = format!(
            "exec '{browser}' --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync --remote-debugging-pipe --user-data-dir='{}' about:blank 3<&0 4>&1 </dev/null >/dev/null 2>'{}'",
            profile.display(),
            log.display()
        );
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let tx = child.stdin.take().unwrap();
        let rx = std::io::BufReader::new(child.stdout.take().unwrap());
        Cdp {
            child,
            tx,
            rx,
            id: 0,
            session: None,
            events: Vec::new(),
        }
    }

    fn read(&mut self) -> serde_json::Value {
        use std::io::BufRead;
        let mut buf = Vec::new();
        let n = self.rx.read_until(0, &mut buf).unwrap();
        assert!(n > 0, "the browser closed the pipe");
        buf.pop();
        serde_json::from_slice(&buf).unwrap()
    }

    /// Send a command (to the attached page once there is one) and wait for its result.
    fn call(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        use std::io::Write;
        self.id += 1;
        let mut msg = serde_json::json!({"id": self.id, "method": method, "params": params});
        if let Some(s) = &self.session {
            msg["sessionId"] = s.clone().into();
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.tx.write_all(&bytes).unwrap();
        self.tx.flush().unwrap();
        loop {
            let v = self.read();
            if v["id"] == self.id {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
            self.events.push(v);
        }
    }

    fn wait_event(&mut self, method: &str) {
        while !self.events.iter().any(|e| e["method"] == method) {
            let v = self.read();
            self.events.push(v);
        }
    }

    /// Evaluate `js` in the page and return its (JSON) value.
    fn eval(&mut self, js: &str) -> serde_json::Value {
        let r = self.call(
            "Runtime.evaluate",
            serde_json::json!({"expression": js, "returnByValue": true}),
        );
        assert!(r.get("exceptionDetails").is_none(), "{js}: {r}");
        r["result"]["value"].clone()
    }
}

impl Drop for Cdp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Standard base64 (the screenshot), decoded.
fn base64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let b: Vec<u8> = s.bytes().filter(|&c| c != b'=').map(val).collect();
    b.chunks(4)
        .flat_map(|q| {
            let n = q.iter().fold(0u32, |acc, &x| (acc << 6) | x as u32) << (6 * (4 - q.len()));
            let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
            bytes[..q.len() - 1].to_vec()
        })
        .collect()
}

/// Every chart of the page is interactive (the RouteLLM chart too): hovering a policy's
/// mark (a point, a line, a bar, a heatmap cell) shows a tooltip with the policy and its figures —
/// the same as summary.csv's — and moving away hides it. Done with real mouse
/// events in headless Chromium; the page still loads nothing from the network.
#[test]
fn hovering_any_chart_shows_the_policy_and_its_figures() {
    let Some(browser) = chromium() else {
        eprintln!("SKIPPED: chromium is not installed (apt-get install chromium)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report");
    let hand = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hand");
    let st = Command::new(env!("CARGO_BIN_EXE_routesim"))
        .args(["run", "--bootstrap", "200", "--by", "meta.task"])
        // A two-model family, for the RouteLLM chart.
        .args(["--strong", "mid", "--weak", "cheap", "-d"])
        .arg(&hand)
        .arg("-p")
        .arg(hand.join("policies"))
        .arg("-o")
        .arg(&report)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    // Expected figures, from summary.csv.
    let mut csv = csv::Reader::from_path(report.join("summary.csv")).unwrap();
    let header = csv.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = csv.records().map(|r| r.unwrap()).collect();
    let figure = |policy: &str, col: &str| -> f64 {
        let row = rows.iter().find(|r| &r[0] == policy).unwrap();
        row[header.iter().position(|h| h == col).unwrap()]
            .parse()
            .unwrap()
    };
    let log = dir.path().join("chromium.log");
    let mut cdp = Cdp::launch(&browser, &dir.path().join("profile"), &log);
    let target = cdp.call(
        "Target.createTarget",
        serde_json::json!({"url": "about:blank"}),
    );
    let attached = cdp.call(
        "Target.attachToTarget",
        serde_json::json!({"targetId": target["targetId"], "flatten": true}),
    );
    cdp.session = Some(attached["sessionId"].as_str().unwrap().to_string());
    cdp.call("Page.enable", serde_json::json!({}));
    cdp.call(
        "Emulation.setDeviceMetricsOverride",
        serde_json::json!({"width": 1400, "height": 900, "deviceScaleFactor": 1, "mobile": false}),
    );
    cdp.call(
        "Page.navigate",
        serde_json::json!({"url": format!("file://{}", report.join("index.html").display())}),
    );
    cdp.wait_event("Page.loadEventFired");
    let shots = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let num = regex::Regex::new(r"-?[0-9]+(\.[0-9]+)?").unwrap();
    for (chart, policy) in [
        ("cost_quality", "cascade"),
        ("latency_cdf", "fallback"),
        ("model_mix", "hybrid"),
        ("cost_over_time", "split"),
        ("quality_by_segment", "task"),
        ("routellm", "split"),
    ] {
        // A point of the policy's mark that the mark itself receives (not another
        // policy's mark on top), scrolled into view, in viewport pixels.
        let at = cdp.eval(&format!(
            r#"(() => {{
  const els = [...document.querySelectorAll('#chart-{chart} .hot [data-policy="{policy}"]')];
  if (!els.length) return null;
  for (const el of els) {{
    el.scrollIntoView({{block: 'center'}});
    const m = el.getScreenCTM();
    let cands = [];
    if (el.tagName === 'polyline') {{
      const n = el.points.numberOfItems;
      for (let i = 0; i < 20; i++) {{ const p = el.points.getItem(Math.floor((i + 0.5) * n / 20)); cands.push([p.x, p.y]); }}
    }} else {{
      const b = el.getBBox(); cands.push([b.x + b.width / 2, b.y + b.height / 2]);
    }}
    for (const [x, y] of cands) {{
      const sx = x * m.a + y * m.c + m.e, sy = x * m.b + y * m.d + m.f;
      if (document.elementFromPoint(sx, sy) === el) return [sx, sy, els.length];
    }}
  }}
  return null;
}})()"#
        ));
        assert!(
            at.is_array(),
            "{chart}: no reachable hover target for {policy}"
        );
        let (x, y) = (at[0].as_f64().unwrap(), at[1].as_f64().unwrap());
        cdp.call(
            "Input.dispatchMouseEvent",
            serde_json::json!({"type": "mouseMoved", "x": x, "y": y}),
        );
        let tip = cdp.eval(
            "(() => { const t = document.getElementById('tip'); return [getComputedStyle(t).display, t.innerText]; })()",
        );
        assert_eq!(tip[0], "block", "{chart}: tooltip shown");
        let text = tip[1].as_str().unwrap().to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], policy, "{chart}: {text}");
        let line = |prefix: &str| -> Vec<f64> {
            let l = lines
                .iter()
                .find(|l| l.starts_with(prefix))
                .unwrap_or_else(|| panic!("{chart}: no {prefix:?} line in {text}"));
            num.find_iter(l)
                .map(|m| m.as_str().parse().unwrap())
                .collect()
        };
        // cost $T ($K per 1k requests); quality Q [lo, hi]; latency p50 A, p95 B.
        let cost = line("cost ");
        assert!(
            (cost[0] - figure(policy, "cost_total_usd")).abs() < 1e-5,
            "{text}"
        );
        assert!(
            (cost[1] - figure(policy, "cost_per_1k_usd")).abs() < 1e-3,
            "{text}"
        );
        let q = line("quality ");
        for (v, col) in q
            .iter()
            .zip(["quality_mean", "quality_ci_lo", "quality_ci_hi"])
        {
            // 3 decimals shown, 4 in the CSV.
            assert!((v - figure(policy, col)).abs() <= 5.5e-4, "{col}: {text}");
        }
        let lat = line("latency ");
        // p50 / p95 shown in ms below 1 s, in s above.
        let to_ms = |v: f64, l: &str, which: &str| {
            let after = l.split(which).nth(1).unwrap();
            if after
                .trim_start()
                .split(' ')
                .nth(1)
                .is_some_and(|u| u.starts_with("ms"))
            {
                v
            } else {
                v * 1000.0
            }
        };
        let lat_line = lines.iter().find(|l| l.starts_with("latency ")).unwrap();
        let p95 = to_ms(lat[3], lat_line, "p95");
        let want = figure(policy, "latency_p95_ms");
        assert!(
            (p95 - want).abs() <= want * 0.006 + 0.5,
            "p95 {p95} vs {want}: {text}"
        );
        let cov = line("coverage ");
        assert!(
            (cov[0] / 100.0 - figure(policy, "coverage")).abs() < 1e-3,
            "{text}"
        );
        // The mark's own detail is there too (except on a policy's cost–quality point).
        if chart != "cost_quality" {
            assert!(lines.len() >= 6, "{chart}: detail line in {text}");
        }
        let png = cdp.call(
            "Page.captureScreenshot",
            serde_json::json!({"format": "png"}),
        );
        let bytes = base64(png["data"].as_str().unwrap());
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        std::fs::write(shots.join(format!("hover-{chart}.png")), &bytes).unwrap();
        // Moving away hides it.
        cdp.call(
            "Input.dispatchMouseEvent",
            serde_json::json!({"type": "mouseMoved", "x": 2, "y": 2}),
        );
        let hidden = cdp.eval("getComputedStyle(document.getElementById('tip')).display");
        assert_eq!(hidden, "none", "{chart}: tooltip hidden again");
    }
    drop(cdp);
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    for bad in ["net::ERR_", "Failed to load resource"] {
        assert!(!log.contains(bad), "{bad} in chromium log:\n{log}");
    }
}
