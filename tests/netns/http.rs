//! HTTP through the VIP, as a client sees it: a prober in the client's namespace sends
//! one GET at a time on a fresh connection, on a fixed schedule, and records the answer
//! (status 200 and which load balancer served it) or the failure.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One request and what came of it.
#[derive(Debug, Clone)]
pub struct Probe {
    pub sent: Instant,
    pub done: Instant,
    /// The body of a 200 response (our HAProxy answers with its node's role), or why
    /// the request failed.
    pub result: Result<String, String>,
}

/// Probes a URL in the background until stopped.
pub struct HttpProber {
    target: SocketAddr,
    stop: Arc<AtomicBool>,
    probes: Arc<Mutex<Vec<Probe>>>,
    thread: Option<JoinHandle<()>>,
}

/// What an [`HttpProber`] saw.
#[derive(Debug, Clone)]
pub struct HttpReport {
    pub target: SocketAddr,
    pub probes: Vec<Probe>,
}

/// Per-request timeout: far beyond a healthy answer on a local bridge (< 1 ms), short
/// enough to count an unanswered request as failed rather than stall the schedule.
const REQUEST_TIMEOUT: Duration = Duration::from_millis(500);

fn get(target: SocketAddr) -> Result<String, String> {
    let mut stream = TcpStream::connect_timeout(&target, REQUEST_TIMEOUT)
        .map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(REQUEST_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(REQUEST_TIMEOUT)))
        .map_err(|e| format!("socket: {e}"))?;
    let request = format!("GET / HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    let mut response = Vec::new();
    stream
        .take(64 * 1024)
        .read_to_end(&mut response)
        .map_err(|e| format!("receive: {e}"))?;
    let text = String::from_utf8_lossy(&response);
    let status = text.split_whitespace().nth(1).unwrap_or("");
    if status != "200" {
        return Err(format!("status {status:?}: {:?}", text.lines().next()));
    }
    Ok(text
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or("")
        .trim()
        .to_string())
}

impl HttpProber {
    /// Starts probing `target` from namespace `ns`, one request every `interval`, one
    /// at a time (a request that hangs delays the next).
    pub fn start(ns: &str, target: SocketAddr, interval: Duration) -> HttpProber {
        HttpProber::spawn(ns, target, interval, false)
    }

    /// Like [`HttpProber::start`], but each request runs on its own thread, so one that
    /// hangs (a SYN lost while nobody holds the VIP waits for its timeout) does not delay
    /// the next: a request really starts every `interval`. For measuring when service
    /// resumes; a client of this kind has more requests in flight at any moment.
    pub fn start_concurrent(ns: &str, target: SocketAddr, interval: Duration) -> HttpProber {
        HttpProber::spawn(ns, target, interval, true)
    }

    fn spawn(ns: &str, target: SocketAddr, interval: Duration, concurrent: bool) -> HttpProber {
        let stop = Arc::new(AtomicBool::new(false));
        let probes = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, probes) = (stop.clone(), probes.clone());
            super::spawn_in_netns(ns, move || {
                let probe = move |probes: &Mutex<Vec<Probe>>| {
                    let sent = Instant::now();
                    let result = get(target);
                    probes.lock().unwrap().push(Probe {
                        sent,
                        done: Instant::now(),
                        result,
                    });
                };
                let start = Instant::now();
                let mut n: u32 = 0;
                let mut running: Vec<JoinHandle<()>> = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    if concurrent {
                        let probes = probes.clone();
                        // Threads created here inherit this thread's network namespace.
                        running.push(std::thread::spawn(move || probe(&probes)));
                        running.retain(|t| !t.is_finished());
                    } else {
                        probe(&probes);
                    }
                    // Paced on a fixed schedule, so a slow request does not stretch it.
                    n += 1;
                    let next = start + interval * n;
                    let now = Instant::now();
                    if next > now {
                        std::thread::sleep(next - now);
                    }
                }
                for t in running {
                    let _ = t.join();
                }
                probes.lock().unwrap().sort_by_key(|p| p.sent);
            })
        };
        HttpProber {
            target,
            stop,
            probes,
            thread: Some(thread),
        }
    }

    /// Waits until a request sent from now on is answered by `server` (the body).
    pub fn wait_served_by(&self, server: &str, timeout: Duration) -> Result<Duration, String> {
        let since = Instant::now();
        super::wait_for(timeout, || {
            self.probes
                .lock()
                .unwrap()
                .iter()
                .rev()
                .take(2000)
                .any(|p| p.sent >= since && p.result.as_deref() == Ok(server))
        })
        .map_err(|e| {
            let last = self.probes.lock().unwrap().last().cloned();
            format!(
                "{} not served by {server}: {e}; last probe: {last:?}",
                self.target
            )
        })
    }

    pub fn stop(mut self) -> HttpReport {
        self.finish()
    }

    fn finish(&mut self) -> HttpReport {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        HttpReport {
            target: self.target,
            probes: self.probes.lock().unwrap().clone(),
        }
    }
}

impl Drop for HttpProber {
    fn drop(&mut self) {
        self.finish();
    }
}

impl HttpReport {
    pub fn failures(&self) -> Vec<&Probe> {
        self.probes.iter().filter(|p| p.result.is_err()).collect()
    }

    /// Servers in the order they answered, runs collapsed: e.g. `["a", "b", "a"]`.
    pub fn servers(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for p in &self.probes {
            if let Ok(s) = &p.result
                && out.last() != Some(s)
            {
                out.push(s.clone());
            }
        }
        out
    }
}

impl std::fmt::Display for HttpReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let failures = self.failures();
        write!(
            f,
            "HTTP {}: {} requests, {} failed, servers {:?}",
            self.target,
            self.probes.len(),
            failures.len(),
            self.servers()
        )?;
        for p in failures.iter().take(5) {
            write!(f, "\n  failed: {:?}", p.result)?;
        }
        Ok(())
    }
}
