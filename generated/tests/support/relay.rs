//! A TCP relay between a client and a server, which a test can cut (every
//! relayed connection ends, and new ones are dropped) and restore: a
//! network failure that leaves the server, and its topics, up.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A TCP relay to a server, which the test can cut (every relayed
/// connection ends, and new ones are dropped) and restore.
pub struct Relay {
    addr: SocketAddr,
    open: Arc<AtomicBool>,
    relayed: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accepting: JoinHandle<()>,
}

impl Relay {
    pub async fn to(server: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let open = Arc::new(AtomicBool::new(true));
        let relayed = Arc::new(Mutex::new(Vec::new()));
        let accepting = tokio::spawn({
            let open = Arc::clone(&open);
            let relayed = Arc::clone(&relayed);
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if !open.load(Ordering::SeqCst) {
                        continue;
                    }
                    let task = tokio::spawn(async move {
                        if let Ok(mut upstream) = TcpStream::connect(server).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                        }
                    });
                    relayed
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push(task);
                }
            }
        });
        Relay {
            addr,
            open,
            relayed,
            accepting,
        }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        let relayed = std::mem::take(
            &mut *self
                .relayed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for task in relayed {
            task.abort();
        }
    }

    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
        self.accepting.abort();
    }
}
