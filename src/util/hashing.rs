//! sha256 beside the work instead of in line with it. Layers are hashed whenever they cross
//! the store's edge (load, pull, save, push), and on two cores hashing on its own thread lets
//! the copying and writing go on meanwhile.

use sha2::{Digest, Sha256};
use std::io::{self, Read};
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};
use std::sync::Arc;

/// How much the hashing reader takes from its source at a time, and how many such chunks may
/// wait for the hasher.
const HASH_CHUNK: usize = 1 << 20;
const HASH_QUEUE: usize = 4;

/// A reader that hashes everything read through it, on a thread of its own: sha256 is about a
/// third of the CPU time of applying or saving a layer, and beside the copying instead of in
/// line with it, it no longer adds to the critical path. Chunks go to the hasher and come back
/// for reuse, so nothing is copied for it and a layer costs a few MiB of buffers.
pub struct HashingReader<R> {
    inner: R,
    /// The chunk being served, how much of it holds data, and how much was served.
    chunk: Option<(Arc<Vec<u8>>, usize)>,
    served: usize,
    buffers: usize,
    to_hasher: Option<SyncSender<(Arc<Vec<u8>>, usize)>>,
    spare: Receiver<Arc<Vec<u8>>>,
    hasher: Option<std::thread::JoinHandle<[u8; 32]>>,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        let (to_hasher, chunks) = sync_channel::<(Arc<Vec<u8>>, usize)>(HASH_QUEUE);
        let (give_back, spare) = channel();
        let hasher = std::thread::Builder::new()
            .name("sha256".into())
            .spawn(move || {
                let mut h = Sha256::new();
                for (chunk, len) in chunks {
                    h.update(&chunk[..len]);
                    // The reader may have finished already; then the buffer is just freed.
                    let _ = give_back.send(chunk);
                }
                h.finalize().into()
            })
            .ok();
        HashingReader {
            inner,
            chunk: None,
            served: 0,
            buffers: 0,
            to_hasher: Some(to_hasher),
            spare,
            hasher,
        }
    }

    /// Read to the end (tar leaves padding unread) and return "sha256:<hex>".
    pub fn finish(mut self) -> io::Result<String> {
        io::copy(&mut self, &mut io::sink())?;
        self.to_hasher = None;
        let digest = self
            .hasher
            .take()
            .and_then(|h| h.join().ok())
            .ok_or_else(|| io::Error::other("the sha256 thread failed"))?;
        Ok(format!("sha256:{}", hex::encode(digest)))
    }

    /// An empty buffer: one the hasher gave back, or a new one while fewer than the queue
    /// holds (plus the one being served and the one being hashed) exist.
    fn buffer(&mut self) -> io::Result<Vec<u8>> {
        let back = match self.spare.try_recv() {
            Ok(b) => Some(b),
            Err(_) if self.buffers < HASH_QUEUE + 2 => None,
            Err(_) => Some(
                self.spare
                    .recv()
                    .map_err(|_| io::Error::other("the sha256 thread failed"))?,
            ),
        };
        // Only the hasher gives buffers back, and the reader let go of each before.
        match back.and_then(|b| Arc::try_unwrap(b).ok()) {
            Some(b) => Ok(b),
            None => {
                self.buffers += 1;
                Ok(vec![0; HASH_CHUNK])
            }
        }
    }
}

impl<R: Read> HashingReader<R> {
    /// The rest of the current chunk, after reading (and handing the hasher) the next one if
    /// the current one was all served; empty at the end.
    fn current(&mut self) -> io::Result<&[u8]> {
        if self
            .chunk
            .as_ref()
            .is_none_or(|(_, len)| self.served == *len)
        {
            self.chunk = None;
            let mut b = self.buffer()?;
            let len = self.inner.read(&mut b)?;
            if len == 0 {
                return Ok(&[]);
            }
            let b = Arc::new(b);
            self.to_hasher
                .as_ref()
                .ok_or_else(|| io::Error::other("the sha256 thread failed"))?
                .send((b.clone(), len))
                .map_err(|_| io::Error::other("the sha256 thread failed"))?;
            self.chunk = Some((b, len));
            self.served = 0;
        }
        let (chunk, len) = self.chunk.as_ref().expect("a chunk was read above");
        Ok(&chunk[self.served..*len])
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let rest = self.current()?;
        let n = buf.len().min(rest.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.served += n;
        Ok(n)
    }
}

/// Readers that can take the chunks as they are (a save's writer) copy them once, not twice.
impl<R: Read> io::BufRead for HashingReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.current()
    }
    fn consume(&mut self, n: usize) {
        self.served += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A source that hands out at most `step` bytes a read, as sockets and decoders do.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.step).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn check(len: usize, step: usize, out: usize) {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 256) as u8).collect();
        let mut r = HashingReader::new(Trickle { data: &data, step });
        let mut seen = Vec::new();
        let mut buf = vec![0; out];
        loop {
            match r.read(&mut buf).unwrap() {
                0 => break,
                n => seen.extend_from_slice(&buf[..n]),
            }
        }
        assert_eq!(seen, data);
        let want = format!("sha256:{}", hex::encode(Sha256::digest(&data)));
        assert_eq!(r.finish().unwrap(), want);
    }

    #[test]
    fn hashes_and_passes_on_every_byte_across_chunks() {
        for len in [0, 1, HASH_CHUNK - 1, HASH_CHUNK, 9 * HASH_CHUNK + 3] {
            check(len, HASH_CHUNK, 8192);
        }
    }

    #[test]
    fn finish_hashes_what_was_left_unread() {
        let data = vec![5u8; 3 * HASH_CHUNK + 1];
        let mut r = HashingReader::new(&data[..]);
        let mut head = [0u8; 100];
        r.read_exact(&mut head).unwrap();
        let want = format!("sha256:{}", hex::encode(Sha256::digest(&data)));
        assert_eq!(r.finish().unwrap(), want);
    }

    #[test]
    fn a_failing_source_fails_the_reader() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        let err = HashingReader::new(Broken).finish().unwrap_err();
        assert!(err.to_string().contains("disk on fire"), "{err}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn any_read_pattern_gives_the_plain_digest(
            len in 0usize..(3 << 20),
            step in 1usize..(2 << 20),
            out in 1usize..(1 << 17),
        ) {
            check(len, step, out);
        }
    }
}
