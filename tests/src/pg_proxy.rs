//! A TCP proxy in front of a PostgreSQL server that can lose the answer to a `COMMIT`: once
//! armed, the next `COMMIT` a client sends (a simple query) reaches the server, whose answer
//! is dropped, and the connection is cut a moment later — the client cannot know whether its
//! transaction committed.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// The proxy; it listens until the test ends.
pub struct CommitEater {
    port: u16,
    armed: Arc<AtomicBool>,
    eaten: Arc<AtomicUsize>,
}

/// The simple-query message `COMMIT` as the client library sends it.
const COMMIT: &[u8] = b"COMMIT\0";

impl CommitEater {
    /// Listens on a free loopback port, forwarding to `127.0.0.1:target`.
    pub fn start(target: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy port");
        let port = listener.local_addr().expect("address").port();
        let armed = Arc::new(AtomicBool::new(false));
        let eaten = Arc::new(AtomicUsize::new(0));
        let (accept_armed, accept_eaten) = (Arc::clone(&armed), Arc::clone(&eaten));
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let cut = Arc::new(AtomicBool::new(false));
                let (c, s) = (
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                );
                let (armed, eaten, up_cut) = (
                    Arc::clone(&accept_armed),
                    Arc::clone(&accept_eaten),
                    Arc::clone(&cut),
                );
                std::thread::spawn(move || to_server(client, server, &armed, &eaten, &up_cut));
                std::thread::spawn(move || to_client(s, c, &cut));
            }
        });
        Self { port, armed, eaten }
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Loses the answer to the next `COMMIT`.
    pub fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    /// How many answers to `COMMIT` were lost.
    pub fn eaten(&self) -> usize {
        self.eaten.load(Ordering::SeqCst)
    }
}

fn to_server(
    mut from: TcpStream,
    mut to: TcpStream,
    armed: &AtomicBool,
    eaten: &AtomicUsize,
    cut: &AtomicBool,
) {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let commit = buffer[..n].windows(COMMIT.len()).any(|w| w == COMMIT);
        // The answer is dropped from before the server can send it.
        let lose = commit && armed.swap(false, Ordering::SeqCst);
        if lose {
            cut.store(true, Ordering::SeqCst);
        }
        if to.write_all(&buffer[..n]).is_err() {
            break;
        }
        if lose {
            eaten.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(300));
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

fn to_client(mut from: TcpStream, mut to: TcpStream, cut: &AtomicBool) {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if cut.load(Ordering::SeqCst) || to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
