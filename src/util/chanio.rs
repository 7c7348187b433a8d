//! A blocking `Read` over chunks sent from async code. Big chunks matter: a reader that woke
//! the async side for every few kilobytes (as a plain sync bridge over an HTTP body does)
//! spends more time switching threads than hashing and writing.

use bytes::{Bytes, BytesMut};
use std::io::Read;
use tokio::sync::mpsc::{Receiver, Sender};

/// How much an async feeder gathers before it hands a chunk over.
pub const CHUNK: usize = 1 << 20;

pub struct ChannelReader {
    rx: Receiver<std::io::Result<Bytes>>,
    buf: Bytes,
    pos: usize,
    give_back: Option<std::sync::mpsc::Sender<BytesMut>>,
}

/// The chunks a recycling `ChannelReader` has drained, for its feeder to fill again. A fresh
/// MiB costs the kernel 256 page faults each time the allocator hands memory back and takes
/// it again; a reused one costs none.
pub struct SpareChunks(std::sync::mpsc::Receiver<BytesMut>);

impl SpareChunks {
    /// An empty chunk of at least `CHUNK` bytes' capacity: a drained one, else a new one.
    pub fn chunk(&self) -> BytesMut {
        match self.0.try_recv() {
            Ok(mut b) => {
                b.reserve(CHUNK);
                b
            }
            Err(_) => BytesMut::with_capacity(CHUNK),
        }
    }
}

/// A channel of at most `depth` chunks, a reader of it that gives drained chunks back, and
/// where the feeder finds them.
pub fn recycling_channel(
    depth: usize,
) -> (Sender<std::io::Result<Bytes>>, SpareChunks, ChannelReader) {
    let (tx, rx) = tokio::sync::mpsc::channel(depth);
    let (give_back, spare) = std::sync::mpsc::channel();
    let mut reader = ChannelReader::new(rx);
    reader.give_back = Some(give_back);
    (tx, SpareChunks(spare), reader)
}

impl ChannelReader {
    pub fn new(rx: Receiver<std::io::Result<Bytes>>) -> ChannelReader {
        ChannelReader {
            rx,
            buf: Bytes::new(),
            pos: 0,
            give_back: None,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.buf.len() {
            let drained = std::mem::take(&mut self.buf);
            self.pos = 0;
            if let Some(give_back) = &self.give_back {
                // Unique once the feeder has let go of it, which it did when it sent it.
                if let Ok(mut b) = drained.try_into_mut() {
                    b.clear();
                    let _ = give_back.send(b);
                }
            }
            // Called on a blocking thread, never on the async ones.
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.buf = b,
                Some(Err(e)) => return Err(e),
                // The sender is gone: the stream ended.
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Chunks of a MiB whose memory comes back once the body that sent them has dropped them, so
/// a long stream reuses a few MiB instead of faulting in a fresh one for every MiB it sends.
#[derive(Clone, Default)]
pub struct ChunkPool(std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>);

/// A sent chunk, which gives its memory back to its pool once dropped.
struct PooledChunk {
    buf: Vec<u8>,
    pool: ChunkPool,
}

impl AsRef<[u8]> for PooledChunk {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for PooledChunk {
    fn drop(&mut self) {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let mut pool = self.pool.0.lock().unwrap_or_else(|p| p.into_inner());
        // As many as the channel and the socket can hold at once; more would only be memory.
        if pool.len() < 8 {
            pool.push(buf);
        }
    }
}

impl ChunkPool {
    /// An empty buffer of `CHUNK` bytes' capacity: one that came back, else a new one.
    pub fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(CHUNK))
    }

    /// `buf` as a body chunk that comes back to this pool when dropped.
    pub fn send_off(&self, buf: Vec<u8>) -> Bytes {
        Bytes::from_owner(PooledChunk {
            buf,
            pool: self.clone(),
        })
    }
}

/// A blocking `Write` into a channel of a response body, in pooled chunks of a MiB.
pub struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Bytes>,
    buf: Vec<u8>,
    pool: ChunkPool,
}

impl ChannelWriter {
    pub fn new(tx: tokio::sync::mpsc::Sender<Bytes>) -> ChannelWriter {
        ChannelWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
            pool: ChunkPool::default(),
        }
    }

    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, self.pool.take());
        self.tx
            .blocking_send(self.pool.send_off(chunk))
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
            })
    }
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // Filled to exactly CHUNK, so a chunk never grows (and is copied).
        let n = (CHUNK - self.buf.len()).min(buf.len());
        self.buf.extend_from_slice(&buf[..n]);
        if self.buf.len() == CHUNK {
            self.send()?;
        }
        Ok(n)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_writer_sends_whole_chunks_and_reuses_their_memory() {
        use std::io::Write;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(8);
        let data: Vec<u8> = (0..3 * CHUNK + 5).map(|i| (i % 253) as u8).collect();
        let mut w = ChannelWriter::new(tx);
        for piece in data.chunks(7000) {
            w.write_all(piece).unwrap();
        }
        drop(w);
        let mut got = Vec::new();
        let mut sizes = Vec::new();
        let mut first_at = None;
        while let Some(b) = rx.blocking_recv() {
            first_at.get_or_insert(b.as_ptr());
            sizes.push(b.len());
            got.extend_from_slice(&b);
        }
        assert_eq!(got, data);
        assert_eq!(sizes, [CHUNK, CHUNK, CHUNK, 5]);

        // Chunks the body has dropped come back: the next writer's second chunk is the first's.
        let pool = ChunkPool::default();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(8);
        let mut w = ChannelWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
            pool: pool.clone(),
        };
        w.write_all(&data[..CHUNK]).unwrap();
        let first = rx.blocking_recv().unwrap();
        let at = first.as_ptr();
        drop(first);
        assert_eq!(pool.0.lock().unwrap().len(), 1);
        w.write_all(&data[..CHUNK]).unwrap();
        w.write_all(&data[..CHUNK]).unwrap();
        rx.blocking_recv().unwrap();
        assert_eq!(rx.blocking_recv().unwrap().as_ptr(), at);
    }

    #[test]
    fn a_recycling_reader_gives_drained_chunks_back_for_reuse() {
        let (tx, spare, mut reader) = recycling_channel(4);
        let mut first = spare.chunk();
        let first_at = first.as_ptr();
        first.extend_from_slice(b"hello ");
        let mut second = spare.chunk();
        second.extend_from_slice(b"world");
        tx.blocking_send(Ok(first.freeze())).unwrap();
        tx.blocking_send(Ok(second.freeze())).unwrap();
        drop(tx);
        let mut all = String::new();
        reader.read_to_string(&mut all).unwrap();
        assert_eq!(all, "hello world");
        let again = spare.chunk();
        assert_eq!(
            again.as_ptr(),
            first_at,
            "the first chunk's memory is used again"
        );
        assert!(again.is_empty() && again.capacity() >= CHUNK);
    }
}
