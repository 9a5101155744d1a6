//! A TCP proxy on a loopback port in front of a broker, that a test can cut (every connection
//! dropped, new ones refused) and restore: a network outage with the broker's state intact. It
//! can also hold traffic (connections stay open, nothing is forwarded) and let it go again.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The proxy.
pub struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    held: Arc<AtomicBool>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
}

fn pipe(mut from: TcpStream, mut to: TcpStream, up: Arc<AtomicBool>, held: Arc<AtomicBool>) {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                while held.load(Ordering::SeqCst) && up.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(10));
                }
                if !up.load(Ordering::SeqCst) || to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

impl Proxy {
    /// Listens on loopback `port` and forwards to `127.0.0.1:target`. While cut, the port is
    /// closed: connections are refused.
    pub fn start_on(port: u16, target: u16) -> Self {
        let up = Arc::new(AtomicBool::new(true));
        let held = Arc::new(AtomicBool::new(false));
        let streams: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (accept_up, accept_streams) = (Arc::clone(&up), Arc::clone(&streams));
        let accept_held = Arc::clone(&held);
        let first = TcpListener::bind(("127.0.0.1", port)).expect("proxy port");
        std::thread::spawn(move || {
            let mut listener = Some(first);
            loop {
                if !accept_up.load(Ordering::SeqCst) {
                    listener = None;
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                let Some(open) = listener.as_ref() else {
                    listener = TcpListener::bind(("127.0.0.1", port)).ok();
                    if let Some(l) = &listener {
                        let _ = l.set_nonblocking(true);
                    }
                    continue;
                };
                let _ = open.set_nonblocking(true);
                let client = match open.accept() {
                    Ok((client, _)) => client,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                };
                let _ = client.set_nonblocking(false);
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
                    continue;
                };
                if let Ok(mut all) = accept_streams.lock() {
                    all.extend(client.try_clone().ok());
                    all.extend(server.try_clone().ok());
                }
                let (u1, u2) = (Arc::clone(&accept_up), Arc::clone(&accept_up));
                let (h1, h2) = (Arc::clone(&accept_held), Arc::clone(&accept_held));
                std::thread::spawn(move || pipe(client, s2, u1, h1));
                std::thread::spawn(move || pipe(server, c2, u2, h2));
            }
        });
        Self {
            port,
            up,
            held,
            streams,
        }
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Drops every connection and refuses new ones until [`Proxy::restore`].
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        if let Ok(mut all) = self.streams.lock() {
            for stream in all.drain(..) {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }

    /// Holds traffic: connections stay open (new ones are accepted), nothing is forwarded
    /// until [`Proxy::release`] — to clients, a broker that hangs.
    pub fn hold(&self) {
        self.held.store(true, Ordering::SeqCst);
    }

    /// Forwards what was held, and everything after it.
    pub fn release(&self) {
        self.held.store(false, Ordering::SeqCst);
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}
