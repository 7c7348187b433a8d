//! A blocking `Read` over chunks sent from async code. Big chunks matter: a reader that woke
//! the async side for every few kilobytes (as a plain sync bridge over an HTTP body does)
//! spends more time switching threads than hashing and writing.

use bytes::Bytes;
use std::io::Read;
use tokio::sync::mpsc::Receiver;

/// How much an async feeder gathers before it hands a chunk over.
pub const CHUNK: usize = 1 << 20;

/// Reads the chunks as they come; a drained one is dropped, which gives a pooled chunk's
/// memory back to its feeder (see `ChunkPool`).
pub struct ChannelReader {
    rx: Receiver<std::io::Result<Bytes>>,
    buf: Bytes,
    pos: usize,
}

impl ChannelReader {
    pub fn new(rx: Receiver<std::io::Result<Bytes>>) -> ChannelReader {
        ChannelReader {
            rx,
            buf: Bytes::new(),
            pos: 0,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.buf.len() {
            // Dropped before the wait, so the feeder can fill it again meanwhile.
            self.buf = Bytes::new();
            self.pos = 0;
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

/// Chunks of a MiB whose memory comes back once the body or reader they were sent to has
/// dropped them. A fresh MiB costs the kernel 256 page faults each time the allocator hands
/// memory back and takes it again; a reused one costs none.
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
    fn a_reader_gives_drained_pooled_chunks_back_for_reuse() {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let mut reader = ChannelReader::new(rx);
        let pool = ChunkPool::default();
        let mut first = pool.take();
        let mut second = pool.take();
        let sent = [first.as_ptr(), second.as_ptr()];
        first.extend_from_slice(b"hello ");
        second.extend_from_slice(b"world");
        tx.blocking_send(Ok(pool.send_off(first))).unwrap();
        tx.blocking_send(Ok(pool.send_off(second))).unwrap();
        drop(tx);
        let mut all = String::new();
        reader.read_to_string(&mut all).unwrap();
        assert_eq!(all, "hello world");
        let (a, b) = (pool.take(), pool.take());
        let mut again = [a.as_ptr(), b.as_ptr()];
        again.reverse();
        assert_eq!(again, sent, "both chunks' memory is used again");
        assert!(a.is_empty() && a.capacity() >= CHUNK);
    }
}
