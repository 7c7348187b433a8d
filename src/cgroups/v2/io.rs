//! v2 `io`: the bytes read and written by the cgroup's tasks, summed over devices from
//! io.stat (`MAJ:MIN rbytes=… wbytes=… rios=…`), for `docker stats`' BLOCK I/O column. berth
//! sets no io knobs (Docker's `--blkio-weight` and `--device-*-bps` are not implemented).

use crate::cgroups::stats::{read, IoStats};
use std::path::Path;

pub(super) fn stats(dir: &Path) -> IoStats {
    parse(&read(&dir.join("io.stat")))
}

pub(super) fn parse(text: &str) -> IoStats {
    let mut io = IoStats::default();
    for line in text.lines() {
        for kv in line.split_whitespace().skip(1) {
            if let Some(v) = kv.strip_prefix("rbytes=") {
                io.read_bytes += v.parse::<u64>().unwrap_or(0);
            } else if let Some(v) = kv.strip_prefix("wbytes=") {
                io.write_bytes += v.parse::<u64>().unwrap_or(0);
            }
        }
    }
    io
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_summed_over_devices() {
        let text =
            "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n8:16 rbytes=1 wbytes=2\n";
        assert_eq!(
            parse(text),
            IoStats {
                read_bytes: 101,
                write_bytes: 202
            }
        );
    }
}
