//! Archives sent to the daemon (`load`, `import`), from a file or from stdin. The file is read
//! on a thread of its own, a MiB at a time into pooled chunks, with the kernel asked to read
//! well ahead of it (`fsutil::Prefetch`).

use crate::api::client::ReqBody;
use crate::util::chanio::{ChunkPool, CHUNK};
use crate::util::fsutil::Prefetch;
use bytes::Bytes;
use http_body_util::BodyExt;
use std::io::{self, Read};

/// A request body that streams `file` to its end. A read error ends the body with that error,
/// so the daemon sees a cut-short archive and registers nothing.
pub fn file_body(file: std::fs::File) -> ReqBody {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(4);
    std::thread::spawn(move || feed(file, tx));
    let chunks = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
    BodyExt::boxed(http_body_util::StreamBody::new(
        futures::TryStreamExt::map_ok(chunks, hyper::body::Frame::data),
    ))
}

/// Stdin as a file of its own, so a redirected archive (`load < a.tar`) is read like `-i`.
pub fn stdin_file() -> io::Result<std::fs::File> {
    use std::os::fd::AsFd;
    Ok(std::fs::File::from(
        io::stdin().as_fd().try_clone_to_owned()?,
    ))
}

fn feed(mut file: std::fs::File, tx: tokio::sync::mpsc::Sender<io::Result<Bytes>>) {
    let pool = ChunkPool::default();
    // A pipe or a tty has no length: its metadata says 0, and it takes no advice anyway.
    let len = match file.metadata() {
        Ok(m) if m.is_file() => m.len(),
        _ => 0,
    };
    let mut prefetch = Prefetch::new(len);
    let mut read = 0u64;
    loop {
        prefetch.keep_ahead(&file, read);
        let mut buf = pool.take();
        // read_to_end fills the chunk's spare capacity without zeroing it first.
        match (&mut file).take(CHUNK as u64).read_to_end(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                read += n as u64;
                if tx.blocking_send(Ok(pool.send_off(buf))).is_err() {
                    return; // the request was dropped
                }
            }
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_body_is_the_whole_file_in_chunks_of_a_mib() {
        let data: Vec<u8> = (0..2 * CHUNK + 77).map(|i| (i % 251) as u8).collect();
        let mut f = tempfile::tempfile().unwrap();
        io::Write::write_all(&mut f, &data).unwrap();
        io::Seek::rewind(&mut f).unwrap();
        let mut body = file_body(f);
        let mut sizes = Vec::new();
        let mut got = Vec::new();
        while let Some(frame) = body.frame().await {
            let d = frame.unwrap().into_data().unwrap();
            sizes.push(d.len());
            got.extend_from_slice(&d);
        }
        assert_eq!(sizes, [CHUNK, CHUNK, 77]);
        assert_eq!(got, data);
    }

    #[tokio::test]
    async fn a_pipe_is_read_to_its_end_too() {
        let (r, w) = nix::unistd::pipe().unwrap();
        let writer = std::thread::spawn(move || {
            let mut w = std::fs::File::from(w);
            for _ in 0..3 {
                io::Write::write_all(&mut w, &[7u8; 100_000]).unwrap();
            }
        });
        let body = file_body(std::fs::File::from(r));
        let all = body.collect().await.unwrap().to_bytes();
        writer.join().unwrap();
        assert_eq!(all.len(), 300_000);
        assert!(all.iter().all(|&b| b == 7));
    }

    #[tokio::test]
    async fn a_read_error_ends_the_body_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut body = file_body(std::fs::File::open(dir.path()).unwrap());
        let err = body.frame().await.unwrap().unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EISDIR));
    }
}
