//! The `local` driver's record, laid out as Docker's: a big-endian u32 length, a protobuf
//! `LogEntry` (source = 1, time_nano = 2, line = 3, partial = 4, partial_log_metadata = 5),
//! and the length again, so a reader can walk the file from either end. The line is stored
//! without its newline; `partial` marks one that had none (cut at 16 KiB, or at the exit).

use super::Entry;

/// Docker refuses records above this size as corrupt.
const MAX_RECORD: usize = 1_000_000;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, field: u64, b: &[u8]) {
    if !b.is_empty() {
        put_varint(out, field << 3 | 2);
        put_varint(out, b.len() as u64);
        out.extend_from_slice(b);
    }
}

/// One framed record. `line` ends with its newline unless it was cut.
pub fn encode(line: &[u8], stream: &str, time_nanos: i64) -> Vec<u8> {
    let (text, partial) = match line.strip_suffix(b"\n") {
        Some(t) => (t, false),
        None => (line, true),
    };
    let mut proto = Vec::with_capacity(text.len() + 32);
    put_bytes(&mut proto, 1, stream.as_bytes());
    if time_nanos != 0 {
        put_varint(&mut proto, 2 << 3);
        put_varint(&mut proto, time_nanos as u64);
    }
    put_bytes(&mut proto, 3, text);
    if partial {
        put_varint(&mut proto, 4 << 3);
        put_varint(&mut proto, 1);
    }
    let len = (proto.len() as u32).to_be_bytes();
    let mut out = Vec::with_capacity(proto.len() + 8);
    out.extend_from_slice(&len);
    out.extend_from_slice(&proto);
    out.extend_from_slice(&len);
    out
}

fn varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// A field's value: a number (varint, or a fixed-width one we do not read) or bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Value<'a> {
    Int(u64),
    Bytes(&'a [u8]),
}

/// The fields of one message, by field number.
fn fields(buf: &[u8]) -> Option<Vec<(u64, Value<'_>)>> {
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < buf.len() {
        let key = varint(buf, &mut pos)?;
        let value = match key & 7 {
            0 => Value::Int(varint(buf, &mut pos)?),
            1 => {
                pos += 8;
                Value::Int(0)
            }
            2 => {
                let n = varint(buf, &mut pos)? as usize;
                let b = buf.get(pos..pos.checked_add(n)?)?;
                pos += n;
                Value::Bytes(b)
            }
            5 => {
                pos += 4;
                Value::Int(0)
            }
            _ => return None,
        };
        out.push((key >> 3, value));
    }
    (pos == buf.len()).then_some(out)
}

fn entry(proto: &[u8]) -> Option<Entry> {
    let (mut stream, mut nanos, mut line) = (String::new(), 0i64, Vec::new());
    let (mut partial, mut last) = (false, false);
    for (field, value) in fields(proto)? {
        match (field, value) {
            (1, Value::Bytes(b)) => stream = String::from_utf8_lossy(b).into_owned(),
            (2, Value::Int(v)) => nanos = v as i64,
            (3, Value::Bytes(b)) => line = b.to_vec(),
            (4, Value::Int(v)) => partial = v != 0,
            (5, Value::Bytes(meta)) => {
                last = fields(meta)?
                    .iter()
                    .any(|(f, v)| *f == 1 && *v == Value::Int(1));
            }
            _ => {}
        }
    }
    // Docker's rule: a whole line, or the last piece of a cut one, ends with a newline.
    if !partial || last {
        line.push(b'\n');
    }
    Some(Entry {
        log: String::from_utf8_lossy(&line).into_owned(),
        stream,
        time: super::rfc3339_nanos(chrono::DateTime::from_timestamp_nanos(nanos)),
        attrs: Default::default(),
    })
}

/// The complete records at the start of `buf`, and how many bytes they took. A record whose
/// two lengths disagree (the file is damaged) ends the read, and everything after it is
/// taken as read, so a follower is not stuck on it.
pub fn decode(buf: &[u8]) -> (Vec<Entry>, usize) {
    let mut pos = 0;
    let mut out = Vec::new();
    while let Some(head) = buf.get(pos..pos + 4) {
        let len = u32::from_be_bytes(head.try_into().expect("4 bytes")) as usize;
        if len > MAX_RECORD {
            return (out, buf.len());
        }
        let Some(tail) = buf.get(pos + 4 + len..pos + 8 + len) else {
            break;
        };
        if u32::from_be_bytes(tail.try_into().expect("4 bytes")) as usize != len {
            return (out, buf.len());
        }
        if let Some(e) = entry(&buf[pos + 4..pos + 4 + len]) {
            out.push(e);
        }
        pos += len + 8;
    }
    (out, pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_framed_protobuf_as_dockers() {
        let rec = encode(b"hi\n", "stdout", 1_700_000_000_000_000_001);
        // len, then source (field 1), time_nano (field 2), line (field 3), then len again.
        assert_eq!(&rec[..4], &(rec.len() as u32 - 8).to_be_bytes());
        assert_eq!(&rec[4..12], b"\x0a\x06stdout");
        assert_eq!(rec[12], 0x10);
        assert_eq!(&rec[rec.len() - 8..rec.len() - 4], b"\x1a\x02hi");
        assert_eq!(&rec[rec.len() - 4..], &rec[..4]);
        let (entries, used) = decode(&rec);
        assert_eq!(used, rec.len());
        assert_eq!(entries[0].log, "hi\n");
        assert_eq!(entries[0].stream, "stdout");
        assert_eq!(entries[0].time, "2023-11-14T22:13:20.000000001Z");
    }

    #[test]
    fn a_cut_line_keeps_no_newline_and_a_record_in_progress_waits() {
        let mut buf = encode(b"no newline", "stderr", 5);
        let one = buf.len();
        buf.extend(encode(b"next\n", "stdout", 6));
        let (entries, used) = decode(&buf[..buf.len() - 1]);
        assert_eq!(used, one);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].log, "no newline");
        let (entries, used) = decode(&buf);
        assert_eq!(used, buf.len());
        assert_eq!(entries[1].log, "next\n");
    }

    #[test]
    fn the_last_piece_of_a_partial_line_gets_its_newline() {
        // Docker writes partial_log_metadata { last: true } on the last piece of a long line.
        let proto = b"\x0a\x06stdout\x1a\x03end\x20\x01\x2a\x02\x08\x01";
        let mut rec = (proto.len() as u32).to_be_bytes().to_vec();
        rec.extend_from_slice(proto);
        rec.extend_from_slice(&(proto.len() as u32).to_be_bytes());
        assert_eq!(decode(&rec).0[0].log, "end\n");
    }

    #[test]
    fn damaged_records_do_not_stall_a_reader() {
        let mut rec = encode(b"x\n", "stdout", 1);
        let n = rec.len();
        rec[n - 1] ^= 0xff;
        let (entries, used) = decode(&rec);
        assert!(entries.is_empty());
        assert_eq!(used, n);
    }
}
