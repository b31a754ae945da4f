//! End-to-end tests of the shipvox example over real sockets: `/token`
//! over HTTP, `/ws` with tokio-tungstenite, the binary as a subprocess.

mod binary;
mod broadcast;
mod cluster;
mod common;
mod dev_token;
mod handshake;
mod seed;
mod token;
