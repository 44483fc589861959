//! For tests that drive the network edges (`floatip::net`) directly, without a daemon:
//! a current-thread tokio runtime, deadlines for its futures, and an in-process
//! AF_PACKET capture of the frames a namespace sees.
//!
//! Objects that must live in a namespace (sockets, netlink connections) are created
//! inside [`super::in_netns`] with the runtime's handle entered, then used from the
//! test's own runtime: a socket stays in the namespace it was created in, whichever
//! thread uses it. Must not: capture or send outside the test's own namespaces.

use std::io::Read;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

/// How long any single expected kernel event may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(10);

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread tokio runtime")
}

/// Awaits `future`, failing the test with `what` if it takes longer than [`DEADLINE`].
pub async fn within<F: std::future::Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(DEADLINE, future)
        .await
        .unwrap_or_else(|_| panic!("no {what} within {DEADLINE:?}"))
}

/// Polls `probe` until it returns `Some`, failing with `what` after [`DEADLINE`].
pub async fn poll_until<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(start.elapsed() < DEADLINE, "no {what} within {DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An AF_PACKET socket that sees every frame of one ethertype in its namespace.
pub struct FrameCapture {
    socket: Socket,
}

impl FrameCapture {
    /// Must be called inside [`super::in_netns`].
    pub fn new(ethertype: u16) -> FrameCapture {
        let protocol = i32::from(ethertype.to_be());
        let socket = Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(protocol)))
            .expect("AF_PACKET capture socket");
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("SO_RCVTIMEO");
        FrameCapture { socket }
    }

    /// The first captured frame `wanted` accepts, or a test failure after [`DEADLINE`].
    pub fn expect(&self, what: &str, wanted: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        let start = Instant::now();
        let mut buf = vec![0u8; 2048];
        while start.elapsed() < DEADLINE {
            match (&self.socket).read(&mut buf) {
                Ok(len) => {
                    let frame = &buf[..len];
                    if wanted(frame) {
                        return frame.to_vec();
                    }
                }
                Err(error)
                    if matches!(
                        error.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(error) => panic!("capturing {what}: {error}"),
            }
        }
        panic!("no {what} captured within {DEADLINE:?}");
    }
}
