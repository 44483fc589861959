//! The event stream: a Unix stream socket (`global.event_socket`) on which every
//! connected consumer gets one line per transition and per priority change, in order.
//!
//! Owns the listening socket, its file, the connected clients and their queues. The
//! daemon formats the lines and calls `publish`; this module only delivers them. It must
//! never hold up the daemon: `publish` only queues, each client is written by its own
//! task, and a client that falls more than `MAX_BEHIND` lines behind is disconnected
//! (a consumer that stopped reading must not cost memory without bound). A client gets
//! the lines published after it connected; there is no replay.
//!
//! What clients send is read and thrown away, only to notice at once when they hang up.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use nix::sys::stat::Mode;
use socket2::{Domain, SockAddr, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::task::{AbortHandle, JoinHandle};
use tracing::{debug, warn};

/// Lines a client may have queued before it is disconnected.
const MAX_BEHIND: usize = 1024;
/// Clients connected at once; more are refused.
const MAX_CLIENTS: usize = 64;
/// Mode of the socket file: the owner and its group may connect.
const SOCKET_MODE: u32 = 0o660;

/// A listening event socket. Dropping it disconnects every client, stops its tasks and
/// removes the socket file (if it is still ours).
pub struct EventSocket {
    path: PathBuf,
    /// Device and inode of the socket file we created, so that Drop removes only that.
    identity: (u64, u64),
    clients: Arc<Mutex<Clients>>,
    accept: JoinHandle<()>,
}

#[derive(Default)]
struct Clients {
    list: Vec<Client>,
    next_id: u64,
    /// Set by Drop: the accept loop must not add clients any more.
    closed: bool,
}

struct Client {
    id: u64,
    queue: mpsc::Sender<Arc<str>>,
    task: AbortHandle,
}

impl EventSocket {
    /// Listen on `path`, with mode 0660. A socket file left by a crash (nobody listening
    /// on it) is replaced; a socket someone listens on, or anything that is not a
    /// socket, is left alone and is an error. Must be called inside the tokio runtime.
    pub fn bind(path: &Path) -> io::Result<EventSocket> {
        match fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_socket() => match StdUnixStream::connect(path) {
                Ok(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::AddrInUse,
                        format!("{}: another process listens on it", path.display()),
                    ));
                }
                Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => {
                    debug!(path = %path.display(), "removing a stale event socket");
                    fs::remove_file(path)?;
                }
                Err(error) => return Err(error),
            },
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!(
                        "{} exists and is not a socket; not removing it",
                        path.display()
                    ),
                ));
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }

        let socket = Socket::new(Domain::UNIX, Type::STREAM.cloexec(), None)?;
        // The file bind creates takes the socket's mode (less the umask): set it first so
        // the file is never more open than 0660, even for an instant.
        nix::sys::stat::fchmod(&socket, Mode::from_bits_truncate(SOCKET_MODE))?;
        socket.bind(&SockAddr::unix(path)?)?;
        let created = fs::symlink_metadata(path)?;
        let identity = (created.dev(), created.ino());
        // The umask may have taken bits away; make it exactly 0660.
        let result = fs::set_permissions(path, fs::Permissions::from_mode(SOCKET_MODE))
            .and_then(|()| socket.listen(128))
            .and_then(|()| socket.set_nonblocking(true))
            .and_then(|()| UnixListener::from_std(socket.into()));
        let listener = match result {
            Ok(listener) => listener,
            Err(error) => {
                let _ = fs::remove_file(path);
                return Err(error);
            }
        };
        let clients = Arc::new(Mutex::new(Clients::default()));
        let accept = tokio::spawn(accept_loop(listener, Arc::clone(&clients)));
        Ok(EventSocket {
            path: path.to_path_buf(),
            identity,
            clients,
            accept,
        })
    }

    /// Queue `line` (a newline is appended; newlines inside it become spaces) for every
    /// connected client. Never blocks. A client more than `MAX_BEHIND` lines behind is
    /// disconnected with a warning; one that went away is dropped quietly.
    pub fn publish(&self, line: &str) {
        let mut text = String::with_capacity(line.len() + 1);
        text.extend(
            line.chars()
                .map(|c| if c == '\n' || c == '\r' { ' ' } else { c }),
        );
        text.push('\n');
        let line: Arc<str> = text.into();
        let mut clients = lock(&self.clients);
        clients
            .list
            .retain(|client| match client.queue.try_send(Arc::clone(&line)) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    warn!(
                        path = %self.path.display(),
                        client = client.id,
                        "event socket client is more than {MAX_BEHIND} lines behind; disconnecting it"
                    );
                    client.task.abort();
                    false
                }
                Err(TrySendError::Closed(_)) => {
                    debug!(client = client.id, "event socket client gone");
                    false
                }
            });
    }

    /// Clients connected now.
    #[cfg(test)]
    fn client_count(&self) -> usize {
        let clients = lock(&self.clients);
        clients.list.iter().filter(|c| !c.queue.is_closed()).count()
    }

    /// The path it listens on.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for EventSocket {
    fn drop(&mut self) {
        self.accept.abort();
        let mut clients = lock(&self.clients);
        clients.closed = true;
        for client in clients.list.drain(..) {
            client.task.abort();
        }
        drop(clients);
        // Remove the file only if it is still the one we created (not one a newer
        // instance put there).
        if let Ok(meta) = fs::symlink_metadata(&self.path)
            && (meta.dev(), meta.ino()) == self.identity
        {
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn lock(clients: &Mutex<Clients>) -> MutexGuard<'_, Clients> {
    // The lock is never held across a panic that matters: the data stays consistent.
    clients
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn accept_loop(listener: UnixListener, clients: Arc<Mutex<Clients>>) {
    let mut refused_logged = false;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of descriptors, typically: wait rather than spin.
                debug!(%error, "event socket accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let mut clients = lock(&clients);
        if clients.closed {
            return;
        }
        clients.list.retain(|c| !c.queue.is_closed());
        if clients.list.len() >= MAX_CLIENTS {
            if !refused_logged {
                warn!("event socket has {MAX_CLIENTS} clients; refusing more");
                refused_logged = true;
            }
            continue;
        }
        refused_logged = false;
        let (queue, lines) = mpsc::channel(MAX_BEHIND);
        let id = clients.next_id;
        clients.next_id += 1;
        let task = tokio::spawn(serve(stream, lines)).abort_handle();
        debug!(client = id, "event socket client connected");
        clients.list.push(Client { id, queue, task });
    }
}

/// Write every queued line to one client, until it hangs up or the queue is dropped.
async fn serve(stream: UnixStream, mut lines: mpsc::Receiver<Arc<str>>) {
    let (mut reader, mut writer) = stream.into_split();
    let mut discard = [0u8; 256];
    loop {
        tokio::select! {
            line = lines.recv() => match line {
                Some(line) => {
                    if writer.write_all(line.as_bytes()).await.is_err() {
                        return;
                    }
                }
                None => return,
            },
            read = reader.read(&mut discard) => match read {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::security::test_support::TempDir;
    use std::io::{BufRead, BufReader, Read};
    use std::time::Instant;

    async fn wait_for_clients(socket: &EventSocket, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(3);
        while socket.client_count() != n {
            assert!(
                Instant::now() < deadline,
                "{} clients, expected {n}",
                socket.client_count()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn connect(path: &Path) -> StdUnixStream {
        let stream = StdUnixStream::connect(path).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
    }

    /// Read `n` lines on a thread; the connection stays open until the returned reader
    /// is dropped.
    fn read_lines(
        stream: StdUnixStream,
        n: usize,
    ) -> tokio::task::JoinHandle<(Vec<String>, BufReader<StdUnixStream>)> {
        tokio::task::spawn_blocking(move || {
            let mut reader = BufReader::new(stream);
            let lines = reader
                .by_ref()
                .lines()
                .take(n)
                .map(|l| l.unwrap())
                .collect();
            (lines, reader)
        })
    }

    #[tokio::test]
    async fn every_client_gets_every_line_in_order() {
        let dir = TempDir::new("events");
        let path = dir.path().join("events.sock");
        let socket = EventSocket::bind(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o660);
        let a = read_lines(connect(&path), 200);
        let b = read_lines(connect(&path), 200);
        wait_for_clients(&socket, 2).await;
        let expected: Vec<String> = (0..200)
            .map(|i| format!("{{\"seq\":{i},\"state\":\"MASTER\"}}"))
            .collect();
        for line in &expected {
            socket.publish(line);
        }
        let (a, _a) = a.await.unwrap();
        let (b, _b) = b.await.unwrap();
        assert_eq!(a, expected);
        assert_eq!(b, expected);

        // Newlines inside a line do not split it.
        let c = read_lines(connect(&path), 1);
        wait_for_clients(&socket, 3).await;
        socket.publish("one\ntwo");
        assert_eq!(c.await.unwrap().0, vec!["one two".to_owned()]);
    }

    #[tokio::test]
    async fn a_client_that_never_reads_blocks_nobody_and_is_disconnected() {
        let dir = TempDir::new("events");
        let path = dir.path().join("events.sock");
        let socket = EventSocket::bind(&path).unwrap();
        let mut stalled = connect(&path);
        const LINES: usize = 5000;
        let reader = read_lines(connect(&path), LINES);
        wait_for_clients(&socket, 2).await;

        let padding = "x".repeat(1000);
        let mut slowest = Duration::ZERO;
        for i in 0..LINES {
            let started = Instant::now();
            socket.publish(&format!("{i} {padding}"));
            slowest = slowest.max(started.elapsed());
            // Let the writers run, as the daemon's loop does between events.
            tokio::task::yield_now().await;
        }
        println!("slowest publish: {slowest:?}");
        // A publish that waited for the stalled client would wait for ever; a second is
        // only a bound generous enough for a busy machine.
        assert!(slowest < Duration::from_secs(1), "{slowest:?}");
        let (lines, _reader) = reader.await.unwrap();
        assert_eq!(lines.len(), LINES);
        for (i, line) in lines.iter().enumerate() {
            assert_eq!(line, &format!("{i} {padding}"));
        }
        assert_eq!(
            socket.client_count(),
            1,
            "the stalled client is still there"
        );
        // The stalled client gets what was in its socket buffer, then the end.
        let received = tokio::task::spawn_blocking(move || {
            let mut total = 0;
            let mut buffer = [0u8; 65536];
            loop {
                match stalled.read(&mut buffer) {
                    Ok(0) => return Ok(total),
                    Ok(n) => total += n,
                    Err(error) => return Err(error),
                }
            }
        })
        .await
        .unwrap();
        let total = LINES * (padding.len() + 6);
        match received {
            Ok(bytes) => assert!(bytes < total, "{bytes} bytes: it was never cut off"),
            Err(error) => assert_eq!(error.kind(), io::ErrorKind::ConnectionReset),
        }
    }

    #[tokio::test]
    async fn a_client_that_hangs_up_is_dropped_quietly() {
        let dir = TempDir::new("events");
        let path = dir.path().join("events.sock");
        let socket = EventSocket::bind(&path).unwrap();
        let client = connect(&path);
        wait_for_clients(&socket, 1).await;
        drop(client);
        wait_for_clients(&socket, 0).await;
        socket.publish("nobody listens");
        assert!(
            lock(&socket.clients).list.is_empty(),
            "the publish drops the client that hung up"
        );
    }

    #[tokio::test]
    async fn a_stale_socket_is_replaced_a_live_one_is_not() {
        let dir = TempDir::new("events");
        let path = dir.path().join("events.sock");
        // Left by a crash: the file exists, nobody listens.
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(fs::symlink_metadata(&path).is_ok());
        let socket = EventSocket::bind(&path).unwrap();
        let reader = read_lines(connect(&path), 1);
        wait_for_clients(&socket, 1).await;
        socket.publish("hello");
        let (hello, _first) = reader.await.unwrap();
        assert_eq!(hello, vec!["hello".to_owned()]);

        let error = EventSocket::bind(&path).err().unwrap();
        assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
        // The refused second bind left the first one's file alone.
        let reader = read_lines(connect(&path), 1);
        wait_for_clients(&socket, 2).await;
        socket.publish("still here");
        assert_eq!(reader.await.unwrap().0, vec!["still here".to_owned()]);
    }

    #[tokio::test]
    async fn anything_but_a_socket_is_refused_and_left_alone() {
        let dir = TempDir::new("events");
        let path = dir.path().join("events.sock");
        fs::write(&path, "precious").unwrap();
        let error = EventSocket::bind(&path).err().unwrap();
        assert_eq!(error.kind(), io::ErrorKind::AlreadyExists);
        assert!(error.to_string().contains("not a socket"), "{error}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "precious");

        let link = dir.path().join("link.sock");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(EventSocket::bind(&link).is_err());
        assert_eq!(fs::read_to_string(&path).unwrap(), "precious");
    }

    #[tokio::test]
    async fn drop_removes_the_file_and_disconnects_clients() {
        let dir = TempDir::new("events");
        let path = dir.path().join("events.sock");
        let socket = EventSocket::bind(&path).unwrap();
        let mut client = connect(&path);
        wait_for_clients(&socket, 1).await;
        drop(socket);
        assert!(fs::symlink_metadata(&path).is_err(), "socket file left");
        let read = tokio::task::spawn_blocking(move || client.read(&mut [0u8; 16]))
            .await
            .unwrap();
        assert_eq!(read.unwrap(), 0);
    }

    #[tokio::test]
    async fn drop_leaves_a_file_that_is_not_ours() {
        let dir = TempDir::new("events");
        let path = dir.path().join("events.sock");
        let socket = EventSocket::bind(&path).unwrap();
        fs::remove_file(&path).unwrap();
        fs::write(&path, "someone else's").unwrap();
        drop(socket);
        assert_eq!(fs::read_to_string(&path).unwrap(), "someone else's");
    }
}
