//! Tar streams from the daemon (`save`, `export`) to a file or to stdout. A file is written
//! aside and renamed in only when the stream is whole, so a failure leaves no half an archive;
//! a stream is whole when it ends with the tar end marker (two zero blocks), which a daemon
//! that failed half-way never sends.

use http_body_util::BodyExt;

pub async fn tar_to(
    resp: hyper::Response<hyper::body::Incoming>,
    output: Option<&std::path::Path>,
) -> i32 {
    let part = output.map(|p| p.with_extension("berth-part"));
    let file = match &part {
        Some(p) => match std::fs::File::create(p) {
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!("berth: {}: {e}", p.display());
                return 1;
            }
        },
        None => None,
    };
    // Into a file, with a terminal on stderr: the bytes written so far, as they grow.
    let bar = {
        use std::io::IsTerminal;
        (output.is_some() && std::io::stderr().is_terminal()).then(|| {
            let b = indicatif::ProgressBar::new_spinner();
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {bytes} written ({bytes_per_sec})",
                )
                .expect("a valid template"),
            );
            b
        })
    };
    // The writes go on a thread of their own, so reading the socket and writing the disk
    // overlap; the frames are handed over as they came, not copied.
    let (tx, rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(64);
    let writer = tokio::task::spawn_blocking(move || write_chunks(file, rx));
    let mut body = resp.into_body();
    let mut tail: Vec<u8> = Vec::with_capacity(2048);
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        let Ok(d) = frame.into_data() else { continue };
        if let Some(b) = &bar {
            b.inc(d.len() as u64);
        }
        // Only the last KiB matters: it must be the tar end marker.
        let keep = d.len().min(1024);
        tail.extend_from_slice(&d[d.len() - keep..]);
        if tail.len() > 1024 {
            tail.drain(..tail.len() - 1024);
        }
        if tx.send(d).await.is_err() {
            // The writer failed; it says why below.
            break;
        }
    }
    drop(tx);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let written = match writer.await {
        Ok(r) => r,
        Err(e) => Err(std::io::Error::other(e)),
    };
    if let Err(e) = written {
        match &part {
            Some(p) => {
                eprintln!("berth: writing {}: {e}", p.display());
                let _ = std::fs::remove_file(p);
            }
            None => eprintln!("berth: writing the archive: {e}"),
        }
        return 1;
    }
    let whole = tail.len() == 1024 && tail.iter().all(|b| *b == 0);
    if !whole {
        if let Some(p) = &part {
            let _ = std::fs::remove_file(p);
        }
        eprintln!("berth: the daemon could not write the whole archive (see its log)");
        return 1;
    }
    if let (Some(p), Some(final_path)) = (&part, output) {
        if let Err(e) = std::fs::rename(p, final_path) {
            eprintln!("berth: {}: {e}", final_path.display());
            return 1;
        }
    }
    0
}

/// Write the chunks to `file` (fsynced at the end) or, without one, to stdout.
fn write_chunks(
    file: Option<std::fs::File>,
    mut rx: tokio::sync::mpsc::Receiver<bytes::Bytes>,
) -> std::io::Result<()> {
    use std::io::Write;
    let Some(mut f) = file else {
        let mut out = std::io::stdout().lock();
        while let Some(d) = rx.blocking_recv() {
            out.write_all(&d)?;
        }
        return out.flush();
    };
    let mut writeback = crate::util::fsutil::Writeback::default();
    while let Some(d) = rx.blocking_recv() {
        f.write_all(&d)?;
        writeback.wrote(&f, d.len() as u64);
    }
    // The rename that follows must not publish an archive whose bytes are still in the page
    // cache only: a crash right after it would leave a whole-looking but empty file.
    f.sync_all()
}
