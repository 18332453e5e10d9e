//! The committed reports, opened in a real browser: headless Chromium, driven over its DevTools
//! protocol, loads each `results/reference/*/report.html` from `file://` and the test fails on a
//! console error, a chart drawn at zero size, or an image that did not load.
//!
//! Without Chromium the tests say `SKIPPED` and why; with `ECHO_BENCH_REQUIRE_ALL=1` (as CI sets)
//! they fail instead. Chromium runs with a fresh profile in a temporary directory, no network
//! features, and is killed when the test ends, however it ends.

mod support;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::root;

use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

/// The browser's names on Debian and elsewhere, tried in order.
const BROWSERS: [&str; 3] = ["chromium", "chromium-browser", "google-chrome"];

/// The longest any step may take (the browser starting, a page loading): a guard against a
/// hang, never a bound on speed.
const HANG_GUARD: Duration = Duration::from_secs(60);

/// The folders whose committed report is checked.
const REPORTS: [&str; 5] = ["sweep", "pitfall", "capacity", "python", "third-way"];

/// The browser binary, or `None` after saying why the test is skipped (the skip rule of
/// `echo_testkit`: a failure under `ECHO_BENCH_REQUIRE_ALL=1`).
fn browser() -> Option<PathBuf> {
    let found = BROWSERS.iter().find_map(|name| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        })
    });
    if found.is_none() {
        echo_testkit::skip(
            "the reports in a browser",
            "no chromium on PATH (Debian: apt-get install chromium)",
        );
    }
    found
}

/// A headless browser for one test, killed on drop.
struct Browser {
    child: Child,
    socket: WebSocket<TcpStream>,
    next_id: u64,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    fn start(binary: &Path) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--remote-debugging-port=0",
                "--remote-debugging-address=127.0.0.1",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        // The browser writes its port and the browser's websocket path here once it listens.
        let active = profile.path().join("DevToolsActivePort");
        let deadline = Instant::now() + HANG_GUARD;
        let (port, path) = loop {
            if let Ok(text) = std::fs::read_to_string(&active) {
                let mut lines = text.lines();
                if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                    break (port.to_owned(), path.to_owned());
                }
            }
            assert!(
                Instant::now() < deadline,
                "the browser did not open its DevTools port"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let stream = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
        stream.set_read_timeout(Some(HANG_GUARD)).unwrap();
        let url = format!("ws://127.0.0.1:{port}{path}");
        let (socket, _) = tungstenite::client(url.as_str(), stream).unwrap();
        Browser {
            child,
            socket,
            next_id: 0,
            _profile: profile,
        }
    }

    /// Sends a command (to a page's session if given) and returns its result; events that
    /// arrive meanwhile go to `events`.
    fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
        events: &mut Vec<Value>,
    ) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.socket
            .send(Message::text(msg.to_string()))
            .expect("send to the browser");
        loop {
            let reply = self.receive();
            if reply["id"] == json!(id) {
                if let Some(error) = reply.get("error") {
                    panic!("{method}: the browser says {error}");
                }
                return reply["result"].clone();
            }
            events.push(reply);
        }
    }

    fn receive(&mut self) -> Value {
        loop {
            match self.socket.read().expect("read from the browser") {
                Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
                Message::Close(_) => panic!("the browser closed the connection"),
                _ => {}
            }
        }
    }

    /// Opens `page` in a new tab and returns every problem a reader would meet.
    fn problems(&mut self, page: &Path) -> Vec<String> {
        let mut events = Vec::new();
        let target = self.call(
            None,
            "Target.createTarget",
            json!({"url": "about:blank"}),
            &mut events,
        );
        let attached = self.call(
            None,
            "Target.attachToTarget",
            json!({"targetId": target["targetId"], "flatten": true}),
            &mut events,
        );
        let session = attached["sessionId"].as_str().unwrap().to_owned();
        let s = Some(session.as_str());
        for domain in ["Runtime.enable", "Log.enable", "Page.enable"] {
            self.call(s, domain, json!({}), &mut events);
        }
        let url = format!("file://{}", page.display());
        self.call(s, "Page.navigate", json!({"url": url}), &mut events);
        let deadline = Instant::now() + HANG_GUARD;
        while !events
            .iter()
            .any(|e| e["method"] == "Page.loadEventFired" && e["sessionId"] == json!(session))
        {
            assert!(Instant::now() < deadline, "{url} did not finish loading");
            events.push(self.receive());
        }
        let measured = self.call(
            s,
            "Runtime.evaluate",
            json!({"expression": MEASURE, "returnByValue": true}),
            &mut events,
        );
        let mut problems: Vec<String> = events
            .iter()
            .filter(|e| e["sessionId"] == json!(session))
            .filter_map(console_error)
            .collect();
        let found = &measured["result"]["value"];
        if found["charts"].as_u64().unwrap_or(0) == 0 {
            problems.push("no chart on the page".into());
        }
        for item in found["zero"].as_array().into_iter().flatten() {
            problems.push(format!("a chart of zero size: {item}"));
        }
        for item in found["broken"].as_array().into_iter().flatten() {
            problems.push(format!("an image that did not load: {item}"));
        }
        self.call(
            None,
            "Target.closeTarget",
            json!({"targetId": target["targetId"]}),
            &mut events,
        );
        problems
    }
}

/// Runs in the page: how many charts, which have no area, which images did not load.
const MEASURE: &str = r#"(() => {
  const charts = [...document.querySelectorAll('svg')];
  const zero = charts.map((c, i) => [i, c.getBoundingClientRect()])
    .filter(([, r]) => r.width < 1 || r.height < 1)
    .map(([i, r]) => `chart ${i + 1}: ${r.width}x${r.height}`);
  const broken = [...document.images]
    .filter(img => !img.complete || img.naturalWidth === 0)
    .map(img => img.getAttribute('src'));
  return { charts: charts.length, zero, broken };
})()"#;

/// A console error, an uncaught exception or an error logged by the browser, in words.
fn console_error(event: &Value) -> Option<String> {
    let params = &event["params"];
    match event["method"].as_str()? {
        "Runtime.consoleAPICalled" if params["type"] == "error" => {
            Some(format!("console error: {}", params["args"]))
        }
        "Runtime.exceptionThrown" => {
            Some(format!("exception: {}", params["exceptionDetails"]["text"]))
        }
        "Log.entryAdded" if params["entry"]["level"] == "error" => Some(format!(
            "browser error: {} {}",
            params["entry"]["text"], params["entry"]["url"]
        )),
        _ => None,
    }
}

#[test]
fn every_reference_report_renders_in_chromium_without_errors() {
    let Some(binary) = browser() else { return };
    let mut browser = Browser::start(&binary);
    for folder in REPORTS {
        let page = root()
            .join("results/reference")
            .join(folder)
            .join("report.html");
        assert!(page.is_file(), "{} is missing", page.display());
        let problems = browser.problems(&page);
        assert!(
            problems.is_empty(),
            "{}:\n{}",
            page.display(),
            problems.join("\n")
        );
    }
}

#[test]
fn a_console_error_a_zero_size_chart_and_a_missing_image_are_each_caught() {
    let Some(binary) = browser() else { return };
    let mut browser = Browser::start(&binary);
    let dir = tempfile::tempdir().unwrap();
    let good = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"100\" height=\"50\"></svg>";
    let plants = [
        (
            "console.html",
            "<script>console.error('planted')</script>",
            "console error",
        ),
        (
            "zero.html",
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"0\" height=\"0\"></svg>",
            "zero size",
        ),
        (
            "image.html",
            "<img src=\"no-such-chart.png\">",
            "did not load",
        ),
    ];
    for (name, planted, expected) in plants {
        let page = dir.path().join(name);
        std::fs::write(
            &page,
            format!("<!DOCTYPE html><html><body>{good}{planted}</body></html>"),
        )
        .unwrap();
        let problems = browser.problems(&page);
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{name}: expected a problem with '{expected}', got {problems:?}"
        );
    }
    let clean = dir.path().join("clean.html");
    std::fs::write(
        &clean,
        format!("<!DOCTYPE html><html><body>{good}</body></html>"),
    )
    .unwrap();
    assert_eq!(browser.problems(&clean), Vec::<String>::new());
}
