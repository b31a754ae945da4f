//! Reading the socket 4 KiB at a time without zeroing a buffer per read.
//!
//! # Motivation
//!
//! tungstenite reads into a buffer of its own, and before every read it
//! fills the free part of that buffer with zeroes (`FrameCodec::read_in`
//! resizes it to its capacity): with the 4 KiB read buffer the server
//! used, about 3k instructions of `memset` per echoed message (the read
//! that gets the frame, and the one that finds the socket empty), and 4 KiB
//! held by every idle connection. A smaller buffer there zeroes less and
//! holds less, but alone it would cost a system call per few hundred bytes
//! of a large message.
//!
//! [`ReadAhead`] sits between tungstenite and the socket: it reads up to
//! [`READ_BYTES`] into an uninitialised array on the stack (nothing is
//! zeroed), hands over what fits in the caller's buffer, and keeps the rest
//! on the heap only until it is asked for. The socket is read as it was,
//! 4 KiB at a time, while tungstenite's buffer stays small. Writes pass
//! straight through.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf as _, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most one read of the socket asks for.
pub(crate) const READ_BYTES: usize = 4096;

/// A socket whose reads are made [`READ_BYTES`] at a time, whatever the
/// size of the caller's buffer: see the module's documentation.
#[derive(Debug)]
pub(crate) struct ReadAhead<S> {
    inner: S,
    /// Read from the socket and not yet handed over; empty (and holding no
    /// allocation) otherwise.
    kept: Bytes,
}

impl<S> ReadAhead<S> {
    pub(crate) fn new(inner: S) -> Self {
        ReadAhead {
            inner,
            kept: Bytes::new(),
        }
    }

    /// Moves what fits of the kept bytes into `buf`, and lets go of their
    /// allocation once they have all been handed over.
    fn hand_over(&mut self, buf: &mut ReadBuf<'_>) {
        let n = self.kept.len().min(buf.remaining());
        buf.put_slice(&self.kept[..n]);
        if n == self.kept.len() {
            self.kept = Bytes::new();
        } else {
            self.kept.advance(n);
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ReadAhead<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.kept.is_empty() {
            this.hand_over(buf);
            return Poll::Ready(Ok(()));
        }
        // An empty buffer asks for nothing (a read of nothing is not an end
        // of stream); a large one is read into directly.
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        if buf.remaining() >= READ_BYTES {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        let mut stack = [MaybeUninit::<u8>::uninit(); READ_BYTES];
        let mut read = ReadBuf::uninit(&mut stack);
        ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
        let filled = read.filled();
        let n = filled.len().min(buf.remaining());
        buf.put_slice(&filled[..n]);
        if n < filled.len() {
            this.kept = Bytes::copy_from_slice(&filled[n..]);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ReadAhead<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    /// A socket that returns its scripted reads one per call (each at most
    /// what the caller's buffer takes, the rest of it lost: a test that
    /// hands this socket too small a buffer fails), counting the calls.
    #[derive(Default)]
    struct Script {
        reads: VecDeque<io::Result<Vec<u8>>>,
        calls: usize,
        asked: Vec<usize>,
        written: Vec<u8>,
    }

    impl Script {
        fn new(reads: impl IntoIterator<Item = io::Result<Vec<u8>>>) -> Self {
            Script {
                reads: reads.into_iter().collect(),
                ..Script::default()
            }
        }
    }

    impl AsyncRead for Script {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            self.calls += 1;
            let remaining = buf.remaining();
            self.asked.push(remaining);
            match self.reads.pop_front() {
                Some(Ok(bytes)) => {
                    assert!(bytes.len() <= remaining, "read of {remaining} got more");
                    buf.put_slice(&bytes);
                    Poll::Ready(Ok(()))
                }
                Some(Err(e)) => Poll::Ready(Err(e)),
                None => Poll::Ready(Ok(())),
            }
        }
    }

    impl AsyncWrite for Script {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.written.extend_from_slice(buf);
            Poll::Ready(Ok(buf.len()))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn bytes(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i % 251) as u8).collect()
    }

    /// One read of the socket's, `READ_BYTES` asked for, serves several
    /// small reads of the caller's: the rest is kept, then let go.
    #[tokio::test]
    async fn a_caller_buffer_smaller_than_the_read_gets_the_rest_later() {
        let sent = bytes(1500);
        let mut socket = ReadAhead::new(Script::new([Ok(sent.clone())]));
        let mut got = Vec::new();
        let mut buf = [0u8; 512];
        while got.len() < sent.len() {
            let n = socket.read(&mut buf).await.expect("read");
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, sent);
        assert_eq!(socket.inner.calls, 1);
        assert_eq!(socket.inner.asked, [READ_BYTES]);
        assert!(socket.kept.is_empty());
    }

    /// Several frames written at once (pipelined) come out in order, across
    /// reads of the socket, none lost between them.
    #[tokio::test]
    async fn several_reads_in_a_row_keep_their_order() {
        let first = bytes(700);
        let second: Vec<u8> = bytes(3000).into_iter().rev().collect();
        let mut socket = ReadAhead::new(Script::new([Ok(first.clone()), Ok(second.clone())]));
        let mut got = vec![0u8; first.len() + second.len()];
        let mut at = 0;
        while at < got.len() {
            let end = (at + 100).min(got.len());
            at += socket.read(&mut got[at..end]).await.expect("read");
        }
        assert_eq!(got[..first.len()], first[..]);
        assert_eq!(got[first.len()..], second[..]);
        assert_eq!(socket.inner.calls, 2);
    }

    /// What was kept is handed over before anything else: the kept bytes
    /// first, then the end of the stream (no socket read while any remain).
    #[tokio::test]
    async fn the_end_of_the_stream_comes_after_what_was_kept() {
        let sent = bytes(600);
        let mut socket = ReadAhead::new(Script::new([Ok(sent.clone())]));
        let mut buf = [0u8; 512];
        assert_eq!(socket.read(&mut buf).await.expect("read"), 512);
        assert_eq!(socket.read(&mut buf).await.expect("read"), 88);
        assert_eq!(socket.inner.calls, 1);
        assert_eq!(socket.read(&mut buf).await.expect("read"), 0);
        assert_eq!(socket.inner.calls, 2);
    }

    /// An error of the socket's reaches the caller as it was, after the
    /// bytes read before it.
    #[tokio::test]
    async fn an_error_reaches_the_caller_after_what_was_kept() {
        let reset = io::Error::new(io::ErrorKind::ConnectionReset, "reset");
        let mut socket = ReadAhead::new(Script::new([Ok(bytes(600)), Err(reset)]));
        let mut buf = [0u8; 512];
        assert_eq!(socket.read(&mut buf).await.expect("read"), 512);
        assert_eq!(socket.read(&mut buf).await.expect("read"), 88);
        let error = socket.read(&mut buf).await.expect_err("the reset");
        assert_eq!(error.kind(), io::ErrorKind::ConnectionReset);
    }

    /// A read that would block keeps nothing and reads again next time.
    #[tokio::test]
    async fn a_pending_read_keeps_nothing() {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let mut socket = ReadAhead::new(server);
        let mut buf = [0u8; 512];
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut read = ReadBuf::new(&mut buf);
        assert!(
            Pin::new(&mut socket)
                .poll_read(&mut cx, &mut read)
                .is_pending()
        );
        assert!(socket.kept.is_empty());
        client.write_all(&bytes(5000)).await.expect("write");
        let mut got = Vec::new();
        while got.len() < 5000 {
            let n = socket.read(&mut buf).await.expect("read");
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, bytes(5000));
        assert!(socket.kept.is_empty());
    }

    /// The heap buffer exists only while it holds bytes: none before the
    /// first read, one while some are kept, none once they are all taken.
    #[tokio::test]
    async fn the_kept_bytes_are_let_go_once_drained() {
        let mut socket = ReadAhead::new(Script::new([Ok(bytes(1000))]));
        assert!(socket.kept.is_empty());
        let mut buf = [0u8; 600];
        assert_eq!(socket.read(&mut buf).await.expect("read"), 600);
        assert_eq!(socket.kept.len(), 400);
        assert_eq!(socket.read(&mut buf).await.expect("read"), 400);
        // `Bytes::new()` again: a static empty slice, no allocation kept.
        assert!(socket.kept.is_empty());
        assert_eq!(socket.kept.as_ptr(), Bytes::new().as_ptr());
    }

    /// A buffer as large as one read of the socket is read into directly.
    #[tokio::test]
    async fn a_large_buffer_is_read_into_directly() {
        let mut socket = ReadAhead::new(Script::new([Ok(bytes(READ_BYTES + 10))]));
        let mut buf = vec![0u8; READ_BYTES + 100];
        assert_eq!(socket.read(&mut buf).await.expect("read"), READ_BYTES + 10);
        assert_eq!(socket.inner.asked, [READ_BYTES + 100]);
        assert!(socket.kept.is_empty());
    }

    #[tokio::test]
    async fn writes_pass_through() {
        let mut socket = ReadAhead::new(Script::default());
        socket.write_all(b"hello").await.expect("write");
        socket.flush().await.expect("flush");
        socket.shutdown().await.expect("shutdown");
        assert_eq!(socket.inner.written, b"hello");
    }
}
