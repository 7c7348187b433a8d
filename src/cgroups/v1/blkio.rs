//! v1 `blkio`: the bytes read and written by the cgroup's tasks, summed over devices from
//! blkio.throttle.io_service_bytes_recursive, for `docker stats`' BLOCK I/O column. berth sets
//! no blkio knobs (Docker's `--blkio-weight` and `--device-*-bps` are not implemented).

use crate::cgroups::stats::{read, IoStats};
use std::path::Path;

pub(super) const NAME: &str = "blkio";

pub(super) fn stats(dir: &Path) -> IoStats {
    parse(&read(
        &dir.join("blkio.throttle.io_service_bytes_recursive"),
    ))
}

/// Lines `MAJ:MIN Op bytes`; the `Total` line and the other ops are skipped.
pub(super) fn parse(text: &str) -> IoStats {
    let mut io = IoStats::default();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() != 3 {
            continue;
        }
        match f[1] {
            "Read" => io.read_bytes += f[2].parse::<u64>().unwrap_or(0),
            "Write" => io.write_bytes += f[2].parse::<u64>().unwrap_or(0),
            _ => {}
        }
    }
    io
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_are_summed_over_devices() {
        let text = "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:16 Read 1\nTotal 12289\n";
        assert_eq!(
            parse(text),
            IoStats {
                read_bytes: 4097,
                write_bytes: 8192
            }
        );
    }
}
