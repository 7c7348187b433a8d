//! Docker's json-file record: one JSON object per line,
//! `{"log":"hi\n","stream":"stdout","attrs":{…},"time":"2026-11-22T09:15:18.123456789Z"}`,
//! the fields in Docker's order, `attrs` only when options asked for some.

use super::Entry;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize)]
struct Line<'a> {
    log: &'a str,
    stream: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    attrs: Option<&'a BTreeMap<String, String>>,
    time: &'a str,
}

/// One record, newline-terminated.
pub fn encode_line(
    log: &[u8],
    stream: &str,
    time: &str,
    attrs: Option<&BTreeMap<String, String>>,
) -> Vec<u8> {
    let text = String::from_utf8_lossy(log);
    let mut out = serde_json::to_vec(&Line {
        log: &text,
        stream,
        attrs: attrs.filter(|a| !a.is_empty()),
        time,
    })
    .unwrap_or_default();
    out.push(b'\n');
    out
}

/// The complete lines at the start of `buf` (a line that does not parse is skipped, as
/// Docker skips it), and how many bytes they took.
pub fn decode(buf: &[u8]) -> (Vec<Entry>, usize) {
    let Some(end) = buf.iter().rposition(|&b| b == b'\n') else {
        return (Vec::new(), 0);
    };
    let entries = buf[..end]
        .split(|&b| b == b'\n')
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect();
    (entries, end + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_look_like_dockers() {
        let l = encode_line(b"hi\n", "stdout", "2026-11-22T09:15:18.000000001Z", None);
        assert_eq!(
            String::from_utf8(l).unwrap(),
            "{\"log\":\"hi\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-22T09:15:18.000000001Z\"}\n"
        );
        let attrs = BTreeMap::from([("tag".to_string(), "web".to_string())]);
        let l = encode_line(b"hi\n", "stderr", "2026-11-22T09:15:18Z", Some(&attrs));
        assert_eq!(
            String::from_utf8(l).unwrap(),
            "{\"log\":\"hi\\n\",\"stream\":\"stderr\",\"attrs\":{\"tag\":\"web\"},\"time\":\"2026-11-22T09:15:18Z\"}\n"
        );
    }

    #[test]
    fn decode_leaves_a_line_in_progress_and_skips_garbage() {
        let mut buf = encode_line(b"one\n", "stdout", "2026-11-22T09:15:18Z", None);
        buf.extend_from_slice(b"not json\n");
        let attrs = BTreeMap::from([("a".to_string(), "b".to_string())]);
        buf.extend(encode_line(
            b"two\n",
            "stderr",
            "2026-11-22T09:15:19Z",
            Some(&attrs),
        ));
        let whole = buf.len();
        buf.extend_from_slice(b"{\"log\":\"thr");
        let (entries, used) = decode(&buf);
        assert_eq!(used, whole);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].log, "one\n");
        assert_eq!(entries[1].stream, "stderr");
        assert_eq!(entries[1].attrs, attrs);
        assert_eq!(decode(b"{\"log\":"), (Vec::new(), 0));
    }
}
