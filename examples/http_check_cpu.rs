//! CPU cost of the built-in HTTP check: N checks (default 50) every INTERVAL_MS
//! (default 100) for SECONDS (default 60) against a local HAProxy answering
//! `http-request return status 200`, on the daemon's kind of runtime (current thread).
//! Prints the user + system CPU time of this process only (getrusage RUSAGE_SELF; HAProxy
//! is a separate process), scaled to one minute.
//!
//! ```sh
//! cargo run --release --example http_check_cpu -- [N] [INTERVAL_MS] [SECONDS]
//! ```

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use floatip::track::{Observation, probe};
use tokio::sync::mpsc;

fn cpu_seconds() -> (f64, f64) {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes one rusage into the pointed-to memory.
    let usage = unsafe {
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()), 0);
        usage.assume_init()
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(usage.ru_utime), secs(usage.ru_stime))
}

struct Haproxy(Child, std::path::PathBuf);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

fn start_haproxy() -> (Haproxy, SocketAddr) {
    let target = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("floatip-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("haproxy.cfg");
    std::fs::write(
        &config,
        format!(
            "global\n  maxconn 4096\ndefaults\n  mode http\n  timeout client 5s\n  \
             timeout server 5s\n  timeout connect 1s\nfrontend health\n  bind {target}\n  \
             http-request return status 200\n"
        ),
    )
    .unwrap();
    let child = Command::new("haproxy")
        .arg("-db")
        .arg("-f")
        .arg(&config)
        .stdout(Stdio::null())
        .spawn()
        .expect("haproxy must be installed");
    let haproxy = Haproxy(child, dir);
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(target).is_err() {
        assert!(Instant::now() < deadline, "haproxy did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (haproxy, target)
}

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u64>().unwrap());
    let checks = args.next().unwrap_or(50);
    let interval = Duration::from_millis(args.next().unwrap_or(100));
    let seconds = args.next().unwrap_or(60);
    let (_haproxy, target) = start_haproxy();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (passes, fails, user, system) = runtime.block_on(async {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (user0, system0) = cpu_seconds();
        let tasks: Vec<_> = (0..checks)
            .map(|i| {
                probe::spawn_http(
                    i as usize,
                    target,
                    None,
                    "/health".into(),
                    200,
                    interval,
                    Duration::from_secs(1),
                    tx.clone(),
                )
            })
            .collect();
        let (mut passes, mut fails) = (0u64, 0u64);
        let end = tokio::time::Instant::now() + Duration::from_secs(seconds);
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(end) => break,
                Some(report) = rx.recv() => match report.observation {
                    Observation::Pass => passes += 1,
                    other => {
                        if fails == 0 {
                            eprintln!("first failure: {other:?}");
                        }
                        fails += 1;
                    }
                },
            }
        }
        let (user1, system1) = cpu_seconds();
        for task in tasks {
            task.abort();
        }
        (passes, fails, user1 - user0, system1 - system0)
    });
    let per_minute = 60.0 / seconds as f64;
    println!(
        "{checks} http checks every {interval:?} for {seconds} s: {passes} passed, {fails} failed \
         ({:.0} checks/s)",
        (passes + fails) as f64 / seconds as f64
    );
    println!(
        "CPU of the checking process: user {:.3} s + sys {:.3} s = {:.3} s per minute \
         ({:.2}% of one core)",
        user * per_minute,
        system * per_minute,
        (user + system) * per_minute,
        (user + system) / seconds as f64 * 100.0
    );
}
