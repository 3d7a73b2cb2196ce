//! A mock provider: a real HTTP/1.1 server on loopback that speaks OpenAI chat
//! completions (JSON and SSE streaming) and Anthropic messages, for tests, benchmarks
//! and demos without keys (`routesim mock-server`).
//!
//! Markers in the prompt choose a behaviour, counted per distinct prompt:
//! `#429-once` (429 with `retry-after: 1` on the first call), `#500-once`,
//! `#500-always`, `#slow` (answers after 2 s), `#malformed` (200 with broken JSON),
//! `#drop-once` (closes the connection without answering on the first call),
//! `#reset-once` (resets the connection — TCP RST — on the first call),
//! `#cut-stream-once` (a stream reset after its first event, on the first call),
//! `#stall-stream` (a stream that pauses 2 s after its first event), `#stream-error`
//! (an error event after the first piece of text: code 502, or Anthropic's
//! `overloaded_error`), `#end-early-once` (a stream closed cleanly without its end
//! marker, on the first call), `#crlf` (events framed with `\r\n`), `#401` (401
//! whose body echoes the Authorization header, as some proxies do), `#fallback` (the
//! body names `cheap-1` as the model that answered, as a router that fell back would),
//! `#cost` (the usage block carries OpenRouter's `cost`: $0.000123). Otherwise it
//! answers `echo: <prompt>` with a usage block: prompt tokens = words in the prompt,
//! completion tokens = 5.
//!
//! A model id containing `unknown` gets OpenAI's 404 `model_not_found`. With
//! [`MockConfig::api_key`] set, a call without that key gets 401. With
//! [`MockConfig::outage`], the server goes down after a number of requests — the
//! listening socket closes (new connections are refused) and open connections are
//! reset — and comes back on the same port after a while.
//!
//! A model id containing `judge` acts as an LLM judge: it answers `Rating: [[N]]` when
//! the prompt contains `#rate-N`, and an unparseable "I cannot rate this answer."
//! otherwise.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Mock server settings.
#[derive(Debug, Clone, Default)]
pub struct MockConfig {
    /// Added delay before every answer, ms.
    pub latency_ms: u64,
    /// Answer this many requests, then hang every further one (crash tests).
    pub stall_after: Option<usize>,
    /// The only key accepted (`Authorization: Bearer …` or `x-api-key`); others get 401.
    pub api_key: Option<String>,
    /// Go down once, as a crashed gateway does.
    pub outage: Option<Outage>,
}

/// A gateway crash: after `after` requests the server refuses connections and resets
/// open ones for `down_ms`, then listens again on the same port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outage {
    /// Requests received before it goes down (the next one is reset).
    pub after: usize,
    /// How long it stays down, ms.
    pub down_ms: u64,
}

/// A running mock server.
pub struct MockServer {
    /// Bound address.
    pub addr: SocketAddr,
    /// Answers fully written.
    pub completed: Arc<AtomicUsize>,
    /// Requests received (including failures and drops).
    pub received: Arc<AtomicUsize>,
    _runtime: Option<tokio::runtime::Runtime>,
}

impl MockServer {
    /// Start on a background runtime (port 0 = any free port).
    pub fn start(port: u16, cfg: MockConfig) -> std::io::Result<MockServer> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let listener = rt.block_on(TcpListener::bind(("127.0.0.1", port)))?;
        let addr = listener.local_addr()?;
        let completed = Arc::new(AtomicUsize::new(0));
        let received = Arc::new(AtomicUsize::new(0));
        let state = Arc::new(State::new(cfg, completed.clone(), received.clone()));
        rt.spawn(serve(listener, state));
        Ok(MockServer {
            addr,
            completed,
            received,
            _runtime: Some(rt),
        })
    }

    /// Base URL for OpenAI-compatible clients (`http://127.0.0.1:PORT/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }
}

struct State {
    cfg: MockConfig,
    completed: Arc<AtomicUsize>,
    received: Arc<AtomicUsize>,
    seen: Mutex<HashMap<String, usize>>,
    /// Incremented when the server goes down: connections of an older epoch are reset.
    epoch: AtomicUsize,
    /// Wakes the accept loop to close the listener.
    crash: tokio::sync::Notify,
}

impl State {
    fn new(cfg: MockConfig, completed: Arc<AtomicUsize>, received: Arc<AtomicUsize>) -> State {
        State {
            cfg,
            completed,
            received,
            seen: Mutex::new(HashMap::new()),
            epoch: AtomicUsize::new(0),
            crash: tokio::sync::Notify::new(),
        }
    }
}

/// Serve until the runtime stops; during an outage, close the listener (refusing
/// connections) and listen again on the same address afterwards.
async fn serve(mut listener: TcpListener, state: Arc<State>) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((sock, _)) = accepted else {
                    continue;
                };
                let _ = sock.set_nodelay(true);
                let st = state.clone();
                let epoch = st.epoch.load(Ordering::SeqCst);
                tokio::spawn(async move {
                    let _ = connection(sock, st, epoch).await;
                });
            }
            _ = state.crash.notified() => {
                let Ok(addr) = listener.local_addr() else {
                    return;
                };
                drop(listener);
                let down = state.cfg.outage.map(|o| o.down_ms).unwrap_or(0);
                tokio::time::sleep(Duration::from_millis(down)).await;
                listener = loop {
                    match TcpListener::bind(addr).await {
                        Ok(l) => break l,
                        Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                    }
                };
            }
        }
    }
}

/// Close a connection with a TCP reset (RST) rather than an orderly FIN.
fn reset(sock: TcpStream) {
    let _ = sock.set_zero_linger();
    drop(sock);
}

/// Run a mock server in the foreground (for `routesim mock-server`).
pub fn run_forever(port: u16, cfg: MockConfig) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        eprintln!(
            "mock provider listening on http://{}/v1 (OpenAI) and http://{} (Anthropic)",
            listener.local_addr()?,
            listener.local_addr()?
        );
        let state = Arc::new(State::new(
            cfg,
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
        ));
        serve(listener, state).await;
        Ok(())
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

async fn connection(mut sock: TcpStream, st: Arc<State>, epoch: usize) -> std::io::Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    loop {
        // Read one request (headers + content-length body).
        let head_end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i + 4;
            }
            let mut tmp = [0u8; 4096];
            let n = sock.read(&mut tmp).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&tmp[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let len: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse().unwrap_or(0))
            })
            .unwrap_or(0);
        while buf.len() < head_end + len {
            let mut tmp = [0u8; 8192];
            let n = sock.read(&mut tmp).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&tmp[..n]);
        }
        let body: Vec<u8> = buf[head_end..head_end + len].to_vec();
        buf.drain(..head_end + len);
        let index = st.received.fetch_add(1, Ordering::SeqCst);
        if let Some(o) = st.cfg.outage
            && index == o.after
        {
            st.epoch.fetch_add(1, Ordering::SeqCst);
            st.crash.notify_one();
        }
        if st.epoch.load(Ordering::SeqCst) != epoch {
            // The server crashed since this connection was opened.
            reset(sock);
            return Ok(());
        }
        if let Some(n) = st.cfg.stall_after
            && index >= n
        {
            // Hang: never answer (the client's call stays in flight).
            std::future::pending::<()>().await;
        }
        let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
        let auth = head
            .lines()
            .find(|l| {
                l.to_ascii_lowercase().starts_with("authorization:")
                    || l.to_ascii_lowercase().starts_with("x-api-key:")
            })
            .map(|l| {
                l.split_once(':')
                    .map(|x| x.1.trim().to_string())
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        let req: serde_json::Value =
            serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        let anthropic = path.ends_with("/messages");
        let prompt = req["messages"]
            .as_array()
            .and_then(|m| m.last())
            .and_then(|m| m["content"].as_str())
            .unwrap_or("")
            .to_string();
        let stream = req["stream"].as_bool().unwrap_or(false);
        let reply = if req["model"].as_str().is_some_and(|m| m.contains("judge")) {
            judge_reply(&prompt)
        } else {
            format!("echo: {prompt}")
        };
        let nth = {
            let mut seen = st.seen.lock().unwrap_or_else(|e| e.into_inner());
            let c = seen.entry(prompt.clone()).or_insert(0);
            *c += 1;
            *c
        };
        if st.cfg.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(st.cfg.latency_ms)).await;
        }
        if st.epoch.load(Ordering::SeqCst) != epoch {
            reset(sock);
            return Ok(());
        }
        let t0 = std::time::Instant::now();
        if prompt.contains("#drop-once") && nth == 1 {
            return Ok(()); // close without answering
        }
        if prompt.contains("#reset-once") && nth == 1 {
            reset(sock);
            return Ok(());
        }
        let model = req["model"].as_str().unwrap_or("").to_string();
        let key_ok = match &st.cfg.api_key {
            None => true,
            Some(k) => auth == format!("Bearer {k}") || auth == *k,
        };
        if prompt.contains("#slow") {
            tokio::time::sleep(Duration::from_millis(2000)).await;
        }
        let (status, extra, body): (u16, String, Vec<u8>) = if !key_ok {
            (
                401,
                String::new(),
                br#"{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","code":"invalid_api_key"}}"#.to_vec(),
            )
        } else if model.contains("unknown") {
            (
                404,
                String::new(),
                format!(r#"{{"error":{{"message":"The model `{model}` does not exist or you do not have access to it.","type":"invalid_request_error","code":"model_not_found"}}}}"#).into_bytes(),
            )
        } else if prompt.contains("#429-once") && nth == 1 {
            (
                429,
                "retry-after: 1\r\n".into(),
                br#"{"error":{"message":"rate limited","type":"rate_limit"}}"#.to_vec(),
            )
        } else if prompt.contains("#500-always") || (prompt.contains("#500-once") && nth == 1) {
            (
                500,
                String::new(),
                br#"{"error":{"message":"internal error"}}"#.to_vec(),
            )
        } else if prompt.contains("#401") {
            (
                401,
                String::new(),
                format!(r#"{{"error":{{"message":"invalid credentials: {auth}"}}}}"#).into_bytes(),
            )
        } else if prompt.contains("#malformed") {
            (
                200,
                String::new(),
                br#"{"choices": [ {"message": {"content": "oops"#.to_vec(),
            )
        } else if stream {
            let mut sse = if anthropic {
                anthropic_sse(&prompt, &reply)
            } else {
                openai_sse(&req, &prompt, &reply)
            };
            if prompt.contains("#stream-error") {
                // The first piece of text, then an error event, then the end.
                sse.truncate(if anthropic { 2 } else { 1 });
                sse.push(if anthropic {
                    "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n".into()
                } else {
                    "data: {\"error\":{\"message\":\"upstream overloaded\",\"code\":502}}\n\n".into()
                });
            }
            if prompt.contains("#end-early-once") && nth == 1 {
                // A clean close after the first event, without the end marker.
                sse.truncate(1);
            }
            if prompt.contains("#crlf") {
                for ev in &mut sse {
                    *ev = ev.replace('\n', "\r\n");
                }
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\nx-mock-service-us: {}\r\n\r\n",
                t0.elapsed().as_micros()
            );
            sock.write_all(head.as_bytes()).await?;
            for (i, ev) in sse.iter().enumerate() {
                if i == 1 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    if prompt.contains("#cut-stream-once") && nth == 1 {
                        sock.flush().await?;
                        reset(sock);
                        return Ok(());
                    }
                    if prompt.contains("#stall-stream") {
                        tokio::time::sleep(Duration::from_millis(2000)).await;
                    }
                }
                sock.write_all(format!("{:x}\r\n", ev.len()).as_bytes())
                    .await?;
                sock.write_all(ev.as_bytes()).await?;
                sock.write_all(b"\r\n").await?;
            }
            sock.write_all(b"0\r\n\r\n").await?;
            sock.flush().await?;
            st.completed.fetch_add(1, Ordering::SeqCst);
            continue;
        } else if anthropic {
            (200, String::new(), serde_json::to_vec(&serde_json::json!({
                "id": "msg_mock", "type": "message", "role": "assistant", "model": req["model"],
                "content": [{"type": "text", "text": reply}],
                "usage": {"input_tokens": words(&prompt), "output_tokens": 5, "cache_read_input_tokens": 0}
            })).unwrap_or_default())
        } else {
            let served = if prompt.contains("#fallback") {
                serde_json::json!("cheap-1")
            } else {
                req["model"].clone()
            };
            let mut body = serde_json::json!({
                "id": format!("chatcmpl-mock-{index}"), "object": "chat.completion", "model": served,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": words(&prompt), "completion_tokens": 5, "total_tokens": words(&prompt) + 5,
                          "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}}
            });
            if prompt.contains("#cost") {
                body["usage"]["cost"] = serde_json::json!(0.000123);
            }
            (
                200,
                String::new(),
                serde_json::to_vec(&body).unwrap_or_default(),
            )
        };
        let reason = match status {
            200 => "OK",
            401 => "Unauthorized",
            404 => "Not Found",
            429 => "Too Many Requests",
            _ => "Internal Server Error",
        };
        let head = format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nx-mock-service-us: {}\r\n{extra}\r\n",
            body.len(),
            t0.elapsed().as_micros()
        );
        sock.write_all(head.as_bytes()).await?;
        sock.write_all(&body).await?;
        sock.flush().await?;
        st.completed.fetch_add(1, Ordering::SeqCst);
    }
}

fn words(s: &str) -> u64 {
    s.split_whitespace().count().max(1) as u64
}

/// The mock judge: `#rate-N` in the prompt → `Rating: [[N]]`.
fn judge_reply(prompt: &str) -> String {
    let rating = prompt.split("#rate-").nth(1).and_then(|rest| {
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        digits.parse::<u32>().ok()
    });
    match rating {
        Some(n) => format!("The answer is adequate.\nRating: [[{n}]]"),
        None => "I cannot rate this answer.".into(),
    }
}

fn openai_sse(req: &serde_json::Value, prompt: &str, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mid = (0..=text.len() / 2)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    for piece in [&text[..mid], &text[mid..]] {
        out.push(format!(
            "data: {}\n\n",
            serde_json::json!({"object": "chat.completion.chunk", "model": req["model"], "choices": [{"index": 0, "delta": {"content": piece}}]})
        ));
    }
    out.push(format!(
        "data: {}\n\n",
        serde_json::json!({"object": "chat.completion.chunk", "choices": [], "usage": {"prompt_tokens": words(prompt), "completion_tokens": 5, "total_tokens": words(prompt) + 5}})
    ));
    out.push("data: [DONE]\n\n".into());
    out
}

fn anthropic_sse(prompt: &str, text: &str) -> Vec<String> {
    vec![
        format!(
            "event: message_start\ndata: {}\n\n",
            serde_json::json!({"type": "message_start", "message": {"usage": {"input_tokens": words(prompt), "output_tokens": 1}}})
        ),
        format!(
            "event: content_block_delta\ndata: {}\n\n",
            serde_json::json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}})
        ),
        format!(
            "event: message_delta\ndata: {}\n\n",
            serde_json::json!({"type": "message_delta", "usage": {"output_tokens": 5}})
        ),
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n".to_string(),
    ]
}
