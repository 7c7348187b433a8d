//! Tar streams from the daemon (`save`, `export`) to a file or to stdout. A file is written
//! aside and renamed in only when the stream is whole, so a failure leaves no half an archive;
//! a stream is whole when it ends with the tar end marker (two zero blocks), which a daemon
//! that failed half-way never sends.

use http_body_util::BodyExt;
use tokio::io::AsyncWriteExt;

pub async fn tar_to(
    resp: hyper::Response<hyper::body::Incoming>,
    output: Option<&std::path::Path>,
) -> i32 {
    let part = output.map(|p| p.with_extension("berth-part"));
    let mut out: Box<dyn tokio::io::AsyncWrite + Unpin> = match &part {
        Some(p) => match tokio::fs::File::create(p).await {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("berth: {}: {e}", p.display());
                return 1;
            }
        },
        None => Box::new(tokio::io::stdout()),
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
    let mut body = resp.into_body();
    let mut tail: Vec<u8> = Vec::with_capacity(2048);
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        if let Some(d) = frame.data_ref() {
            if let Err(e) = out.write_all(d).await {
                eprintln!("berth: writing the archive: {e}");
                if let Some(p) = &part {
                    let _ = std::fs::remove_file(p);
                }
                return 1;
            }
            if let Some(b) = &bar {
                b.inc(d.len() as u64);
            }
            tail.extend_from_slice(d);
            if tail.len() > 1024 {
                tail.drain(..tail.len() - 1024);
            }
        }
    }
    let _ = out.flush().await;
    drop(out);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    // The rename below must not publish an archive whose bytes are still in the page cache
    // only: a crash right after it would leave a whole-looking but empty file.
    if let Some(p) = &part {
        if let Err(e) = std::fs::File::open(p).and_then(|f| f.sync_all()) {
            eprintln!("berth: {}: {e}", p.display());
            let _ = std::fs::remove_file(p);
            return 1;
        }
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
