//! A blocking `Read` over chunks sent from async code. Big chunks matter: a reader that woke
//! the async side for every few kilobytes (as a plain sync bridge over an HTTP body does)
//! spends more time switching threads than hashing and writing.

use bytes::Bytes;
use std::io::Read;
use tokio::sync::mpsc::Receiver;

/// How much an async feeder gathers before it hands a chunk over.
pub const CHUNK: usize = 1 << 20;

pub struct ChannelReader {
    rx: Receiver<std::io::Result<Bytes>>,
    buf: Bytes,
}

impl ChannelReader {
    pub fn new(rx: Receiver<std::io::Result<Bytes>>) -> ChannelReader {
        ChannelReader {
            rx,
            buf: Bytes::new(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.buf.is_empty() {
            // Called on a blocking thread, never on the async ones.
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.buf = b,
                Some(Err(e)) => return Err(e),
                // The sender is gone: the stream ended.
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        self.buf = self.buf.slice(n..);
        Ok(n)
    }
}

/// A blocking `Write` into a channel of a response body, sending chunks of about a MiB.
pub struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Bytes>,
    buf: bytes::BytesMut,
}

impl ChannelWriter {
    pub fn new(tx: tokio::sync::mpsc::Sender<Bytes>) -> ChannelWriter {
        ChannelWriter {
            tx,
            buf: bytes::BytesMut::with_capacity(CHUNK),
        }
    }

    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, bytes::BytesMut::with_capacity(CHUNK));
        self.tx.blocking_send(chunk.freeze()).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
        })
    }
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(buf);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

impl Drop for ChannelWriter {
    fn drop(&mut self) {
        let _ = self.send();
    }
}
