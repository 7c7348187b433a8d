//! The DNS wire format (RFC 1035), written by hand for what the embedded server needs: the
//! header, questions, and A, AAAA and PTR records (any other record is kept as raw bytes).
//! Reading follows compression pointers, only backwards and a bounded number of times, so a
//! hostile packet can neither loop nor read out of bounds; every read is checked and returns
//! [`WireError`], never panics. Writing compresses one thing only: an answer's owner name that
//! repeats the question, as a pointer to offset 12 (what nearly every server does).

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

pub const TYPE_A: u16 = 1;
pub const TYPE_PTR: u16 = 12;
pub const TYPE_AAAA: u16 = 28;
pub const TYPE_OPT: u16 = 41;
pub const CLASS_IN: u16 = 1;

/// The largest UDP reply a client that did not announce a size (EDNS0) accepts.
pub const UDP_MIN_SIZE: usize = 512;
/// A header is 12 bytes: id, flags, and the four section counts.
pub const HEADER_LEN: usize = 12;

const MAX_NAME_LEN: usize = 255;
const MAX_LABEL_LEN: usize = 63;
const MAX_POINTER_JUMPS: usize = 32;

/// Response codes the server sends or looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rcode {
    NoError,
    FormErr,
    ServFail,
    NxDomain,
    NotImp,
    Refused,
    Other(u8),
}

impl Rcode {
    pub fn from_u8(v: u8) -> Self {
        match v & 0x0f {
            0 => Rcode::NoError,
            1 => Rcode::FormErr,
            2 => Rcode::ServFail,
            3 => Rcode::NxDomain,
            4 => Rcode::NotImp,
            5 => Rcode::Refused,
            n => Rcode::Other(n),
        }
    }

    pub fn to_u8(self) -> u8 {
        match self {
            Rcode::NoError => 0,
            Rcode::FormErr => 1,
            Rcode::ServFail => 2,
            Rcode::NxDomain => 3,
            Rcode::NotImp => 4,
            Rcode::Refused => 5,
            Rcode::Other(n) => n & 0x0f,
        }
    }
}

/// Why a packet could not be read, or a message not written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("the message ends at byte {at}, inside {what}")]
    Truncated { at: usize, what: &'static str },
    #[error("bad label at byte {at}: {why}")]
    BadLabel { at: usize, why: &'static str },
    #[error("a compression pointer at byte {at} does not point backwards")]
    BadPointer { at: usize },
    #[error("a name is longer than 255 bytes")]
    NameTooLong,
    #[error("cannot write the name {name:?}: {why}")]
    BadName { name: String, why: &'static str },
    #[error("record data of {len} bytes does not fit a record")]
    DataTooLong { len: usize },
}

/// The fixed 12 bytes, less the section counts (those come from the sections themselves).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub id: u16,
    /// QR: a response, not a query.
    pub response: bool,
    pub opcode: u8,
    pub authoritative: bool,
    /// TC: the answer did not fit; ask again over TCP.
    pub truncated: bool,
    pub recursion_desired: bool,
    pub recursion_available: bool,
    pub rcode: Rcode,
}

impl Header {
    /// Read the header alone (enough to relay an upstream's reply without decoding it).
    pub fn parse(buf: &[u8]) -> Result<Header, WireError> {
        if buf.len() < HEADER_LEN {
            return Err(WireError::Truncated {
                at: buf.len(),
                what: "the header",
            });
        }
        let flags = u16::from_be_bytes([buf[2], buf[3]]);
        Ok(Header {
            id: u16::from_be_bytes([buf[0], buf[1]]),
            response: flags & 0x8000 != 0,
            opcode: ((flags >> 11) & 0x0f) as u8,
            authoritative: flags & 0x0400 != 0,
            truncated: flags & 0x0200 != 0,
            recursion_desired: flags & 0x0100 != 0,
            recursion_available: flags & 0x0080 != 0,
            rcode: Rcode::from_u8((flags & 0x0f) as u8),
        })
    }

    fn flags(&self) -> u16 {
        let mut f = (u16::from(self.opcode & 0x0f) << 11) | u16::from(self.rcode.to_u8());
        for (set, bit) in [
            (self.response, 0x8000),
            (self.authoritative, 0x0400),
            (self.truncated, 0x0200),
            (self.recursion_desired, 0x0100),
            (self.recursion_available, 0x0080),
        ] {
            if set {
                f |= bit;
            }
        }
        f
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// Dotted, without the final dot; the root is "". Bytes outside letters, digits, '-' and
    /// '_' appear escaped (`\.`, `\032`), as in a zone file.
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Ptr(String),
    /// Any other type, its data as it came (names inside may be compressed against the
    /// packet it came from, so it is only ever relayed, never re-encoded elsewhere).
    Other {
        rtype: u16,
        data: Vec<u8>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub name: String,
    pub class: u16,
    pub ttl: u32,
    pub data: RData,
}

impl Record {
    pub fn a(name: &str, ip: Ipv4Addr, ttl: u32) -> Record {
        Record {
            name: name.to_string(),
            class: CLASS_IN,
            ttl,
            data: RData::A(ip),
        }
    }

    pub fn aaaa(name: &str, ip: Ipv6Addr, ttl: u32) -> Record {
        Record {
            name: name.to_string(),
            class: CLASS_IN,
            ttl,
            data: RData::Aaaa(ip),
        }
    }

    pub fn ptr(name: &str, target: &str, ttl: u32) -> Record {
        Record {
            name: name.to_string(),
            class: CLASS_IN,
            ttl,
            data: RData::Ptr(target.to_string()),
        }
    }

    pub fn rtype(&self) -> u16 {
        match &self.data {
            RData::A(_) => TYPE_A,
            RData::Aaaa(_) => TYPE_AAAA,
            RData::Ptr(_) => TYPE_PTR,
            RData::Other { rtype, .. } => *rtype,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub header: Header,
    pub questions: Vec<Question>,
    pub answers: Vec<Record>,
    pub authorities: Vec<Record>,
    pub additionals: Vec<Record>,
}

impl Message {
    /// A recursive query for one name, as a stub resolver sends it.
    pub fn query(id: u16, name: &str, qtype: u16) -> Message {
        Message {
            header: Header {
                id,
                response: false,
                opcode: 0,
                authoritative: false,
                truncated: false,
                recursion_desired: true,
                recursion_available: false,
                rcode: Rcode::NoError,
            },
            questions: vec![Question {
                name: name.to_string(),
                qtype,
                qclass: CLASS_IN,
            }],
            answers: vec![],
            authorities: vec![],
            additionals: vec![],
        }
    }

    /// An empty reply to `query` with `rcode`: its id, opcode, RD bit and questions echoed,
    /// recursion available (the server forwards what it does not know).
    pub fn reply(query: &Message, rcode: Rcode) -> Message {
        Message {
            header: Header {
                id: query.header.id,
                response: true,
                opcode: query.header.opcode,
                authoritative: false,
                truncated: false,
                recursion_desired: query.header.recursion_desired,
                recursion_available: true,
                rcode,
            },
            questions: query.questions.clone(),
            answers: vec![],
            authorities: vec![],
            additionals: vec![],
        }
    }

    /// The UDP payload size the sender announced in an EDNS0 OPT record, if any (at least
    /// 512: smaller values mean 512, RFC 6891).
    pub fn edns_udp_size(&self) -> Option<usize> {
        self.additionals
            .iter()
            .find(|r| r.rtype() == TYPE_OPT)
            .map(|r| usize::from(r.class).max(UDP_MIN_SIZE))
    }

    /// Read a whole message. Trailing bytes after the last counted record are ignored.
    pub fn parse(buf: &[u8]) -> Result<Message, WireError> {
        let header = Header::parse(buf)?;
        let count = |i: usize| usize::from(u16::from_be_bytes([buf[i], buf[i + 1]]));
        let (qd, an, ns, ar) = (count(4), count(6), count(8), count(10));
        let mut r = Reader {
            buf,
            pos: HEADER_LEN,
        };
        // Counts are attacker-chosen: grow the vectors as records arrive, never by the count.
        let mut questions = Vec::new();
        for _ in 0..qd {
            let name = r.name()?;
            let qtype = r.u16("a question")?;
            let qclass = r.u16("a question")?;
            questions.push(Question {
                name,
                qtype,
                qclass,
            });
        }
        let mut sections = [Vec::new(), Vec::new(), Vec::new()];
        for (section, n) in sections.iter_mut().zip([an, ns, ar]) {
            for _ in 0..n {
                section.push(r.record()?);
            }
        }
        let [answers, authorities, additionals] = sections;
        Ok(Message {
            header,
            questions,
            answers,
            authorities,
            additionals,
        })
    }

    /// Write the message, whatever its size.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        self.encode_within(usize::MAX)
    }

    /// Write the message in at most `limit` bytes (512, or the client's EDNS0 size, for UDP):
    /// records that do not fit are left out and the TC bit is set, so the client asks again
    /// over TCP. Header and questions are always written.
    pub fn encode_within(&self, limit: usize) -> Result<Vec<u8>, WireError> {
        let mut out = vec![0u8; HEADER_LEN];
        let qname = self.questions.first().map(|q| q.name.as_str());
        for q in &self.questions {
            put_name(&mut out, &q.name)?;
            out.extend_from_slice(&q.qtype.to_be_bytes());
            out.extend_from_slice(&q.qclass.to_be_bytes());
        }
        let mut counts = [0u16; 3];
        let mut truncated = self.header.truncated;
        'sections: for (i, section) in [&self.answers, &self.authorities, &self.additionals]
            .into_iter()
            .enumerate()
        {
            for rec in section {
                let mut bytes = Vec::new();
                put_record(&mut bytes, rec, qname)?;
                if out.len() + bytes.len() > limit {
                    truncated = true;
                    break 'sections;
                }
                out.extend_from_slice(&bytes);
                counts[i] += 1;
            }
        }
        let header = Header {
            truncated,
            ..self.header
        };
        out[0..2].copy_from_slice(&header.id.to_be_bytes());
        out[2..4].copy_from_slice(&header.flags().to_be_bytes());
        let qd = u16::try_from(self.questions.len()).unwrap_or(u16::MAX);
        out[4..6].copy_from_slice(&qd.to_be_bytes());
        for (i, c) in counts.iter().enumerate() {
            out[6 + 2 * i..8 + 2 * i].copy_from_slice(&c.to_be_bytes());
        }
        Ok(out)
    }
}

/// Replace the id of an encoded message (relaying an upstream's reply under the client's id).
pub fn set_id(buf: &mut [u8], id: u16) {
    if buf.len() >= 2 {
        buf[0..2].copy_from_slice(&id.to_be_bytes());
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or(WireError::Truncated {
            at: self.buf.len(),
            what,
        })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, WireError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, WireError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A name at the current position; the position ends after its first pointer or its
    /// final zero label.
    fn name(&mut self) -> Result<String, WireError> {
        let (name, end) = read_name(self.buf, self.pos)?;
        self.pos = end;
        Ok(name)
    }

    fn record(&mut self) -> Result<Record, WireError> {
        let name = self.name()?;
        let rtype = self.u16("a record")?;
        let class = self.u16("a record")?;
        let ttl = self.u32("a record")?;
        let len = usize::from(self.u16("a record")?);
        let start = self.pos;
        let data = self.take(len, "record data")?;
        let data = match (rtype, len) {
            (TYPE_A, 4) => RData::A(Ipv4Addr::new(data[0], data[1], data[2], data[3])),
            (TYPE_AAAA, 16) => {
                let mut o = [0u8; 16];
                o.copy_from_slice(data);
                RData::Aaaa(Ipv6Addr::from(o))
            }
            (TYPE_PTR, _) => {
                // The target may point back into the packet, so read it in place, and it
                // must end exactly where the record's data does.
                let (target, end) = read_name(self.buf, start)?;
                if end != self.pos {
                    return Err(WireError::BadLabel {
                        at: start,
                        why: "a PTR target that does not fill its record",
                    });
                }
                RData::Ptr(target)
            }
            _ => RData::Other {
                rtype,
                data: data.to_vec(),
            },
        };
        Ok(Record {
            name,
            class,
            ttl,
            data,
        })
    }
}

/// Read a possibly compressed name starting at `start`; returns it and the offset just past
/// it in the record that holds it.
fn read_name(buf: &[u8], start: usize) -> Result<(String, usize), WireError> {
    let mut name = String::new();
    let mut wire_len = 1; // the final zero label
    let mut pos = start;
    let mut end = None;
    let mut jumps = 0;
    loop {
        let len = *buf.get(pos).ok_or(WireError::Truncated {
            at: buf.len(),
            what: "a name",
        })?;
        match len & 0xc0 {
            0x00 if len == 0 => {
                return Ok((name, end.unwrap_or(pos + 1)));
            }
            0x00 => {
                let len = usize::from(len);
                let label = buf
                    .get(pos + 1..pos + 1 + len)
                    .ok_or(WireError::Truncated {
                        at: buf.len(),
                        what: "a label",
                    })?;
                wire_len += len + 1;
                if wire_len > MAX_NAME_LEN {
                    return Err(WireError::NameTooLong);
                }
                if !name.is_empty() {
                    name.push('.');
                }
                escape_label(&mut name, label);
                pos += 1 + len;
            }
            0xc0 => {
                let low = *buf.get(pos + 1).ok_or(WireError::Truncated {
                    at: buf.len(),
                    what: "a compression pointer",
                })?;
                let target = (usize::from(len & 0x3f) << 8) | usize::from(low);
                // Strictly backwards, and a bounded number of times: no loops.
                jumps += 1;
                if target >= pos || jumps > MAX_POINTER_JUMPS {
                    return Err(WireError::BadPointer { at: pos });
                }
                end.get_or_insert(pos + 2);
                pos = target;
            }
            _ => {
                return Err(WireError::BadLabel {
                    at: pos,
                    why: "an extended label type (0x40 or 0x80)",
                })
            }
        }
    }
}

fn escape_label(out: &mut String, label: &[u8]) {
    for &b in label {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' => out.push(char::from(b)),
            b'.' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
}

/// The labels of a dotted name, escapes undone. A final dot is allowed; "" and "." are the root.
fn labels(name: &str) -> Result<Vec<Vec<u8>>, WireError> {
    let bad = |why| WireError::BadName {
        name: name.to_string(),
        why,
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return Ok(vec![]);
    }
    let mut labels = vec![Vec::new()];
    let mut bytes = name.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'.' => labels.push(Vec::new()),
            b'\\' => {
                let first = bytes.next().ok_or(bad("a trailing backslash"))?;
                let byte = if first.is_ascii_digit() {
                    let digits = [first, bytes.next().unwrap_or(0), bytes.next().unwrap_or(0)];
                    if !digits.iter().all(u8::is_ascii_digit) {
                        return Err(bad("a \\DDD escape without three digits"));
                    }
                    let v = digits
                        .iter()
                        .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
                    u8::try_from(v).map_err(|_| bad("a \\DDD escape above 255"))?
                } else {
                    first
                };
                labels.last_mut().expect("never empty").push(byte);
            }
            _ => labels.last_mut().expect("never empty").push(b),
        }
    }
    if labels.iter().any(Vec::is_empty) {
        return Err(bad("an empty label"));
    }
    if labels.iter().any(|l| l.len() > MAX_LABEL_LEN) {
        return Err(bad("a label longer than 63 bytes"));
    }
    if labels.iter().map(|l| l.len() + 1).sum::<usize>() + 1 > MAX_NAME_LEN {
        return Err(WireError::NameTooLong);
    }
    Ok(labels)
}

fn put_name(out: &mut Vec<u8>, name: &str) -> Result<(), WireError> {
    for label in labels(name)? {
        out.push(label.len() as u8); // at most 63, checked by `labels`
        out.extend_from_slice(&label);
    }
    out.push(0);
    Ok(())
}

fn put_record(out: &mut Vec<u8>, rec: &Record, qname: Option<&str>) -> Result<(), WireError> {
    if qname == Some(rec.name.as_str()) {
        out.extend_from_slice(&(0xc000u16 | HEADER_LEN as u16).to_be_bytes());
    } else {
        put_name(out, &rec.name)?;
    }
    out.extend_from_slice(&rec.rtype().to_be_bytes());
    out.extend_from_slice(&rec.class.to_be_bytes());
    out.extend_from_slice(&rec.ttl.to_be_bytes());
    let mut data = Vec::new();
    match &rec.data {
        RData::A(ip) => data.extend_from_slice(&ip.octets()),
        RData::Aaaa(ip) => data.extend_from_slice(&ip.octets()),
        RData::Ptr(target) => put_name(&mut data, target)?,
        RData::Other { data: raw, .. } => data.extend_from_slice(raw),
    }
    let len = u16::try_from(data.len()).map_err(|_| WireError::DataTooLong { len: data.len() })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&data);
    Ok(())
}

/// A hex dump, 16 bytes a line, for snapshots and debugging.
pub fn hex_dump(buf: &[u8]) -> String {
    let mut out = String::new();
    for (i, chunk) in buf.chunks(16).enumerate() {
        let _ = write!(out, "{:04x} ", i * 16);
        for b in chunk {
            let _ = write!(out, " {b:02x}");
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What `dig +noedns web A` sends (id 0x1234, RD).
    fn web_query() -> Vec<u8> {
        Message::query(0x1234, "web", TYPE_A).encode().unwrap()
    }

    #[test]
    fn a_reply_echoes_id_question_and_rd_and_compresses_the_owner() {
        let q = Message::parse(&web_query()).unwrap();
        let mut r = Message::reply(&q, Rcode::NoError);
        r.answers
            .push(Record::a("web", Ipv4Addr::new(172, 18, 0, 2), 600));
        r.answers
            .push(Record::a("web", Ipv4Addr::new(172, 18, 0, 3), 600));
        let bytes = r.encode().unwrap();
        insta::assert_snapshot!("a_reply_two_answers", hex_dump(&bytes));
        let back = Message::parse(&bytes).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.header.id, 0x1234);
        assert!(back.header.response && back.header.recursion_desired);
    }

    #[test]
    fn error_replies_carry_their_rcode_and_the_question() {
        let q = Message::parse(&web_query()).unwrap();
        for (rcode, snap) in [
            (Rcode::NxDomain, "nxdomain_reply"),
            (Rcode::ServFail, "servfail_reply"),
        ] {
            let bytes = Message::reply(&q, rcode).encode().unwrap();
            insta::assert_snapshot!(snap, hex_dump(&bytes));
            let back = Message::parse(&bytes).unwrap();
            assert_eq!(back.header.rcode, rcode);
            assert_eq!(back.questions, q.questions);
            assert!(back.answers.is_empty());
        }
    }

    #[test]
    fn ptr_reply_round_trips() {
        let q = Message::query(7, "2.0.18.172.in-addr.arpa", TYPE_PTR);
        let mut r = Message::reply(&q, Rcode::NoError);
        r.answers
            .push(Record::ptr("2.0.18.172.in-addr.arpa", "web", 600));
        let bytes = r.encode().unwrap();
        insta::assert_snapshot!("ptr_reply", hex_dump(&bytes));
        assert_eq!(Message::parse(&bytes).unwrap(), r);
    }

    /// A query as glibc sends it, with an EDNS0 OPT record announcing 1232 bytes.
    #[test]
    fn parses_a_query_with_edns() {
        let bytes = hex::decode(concat!(
            "abcd01200001000000000001",     // id, RD+AD, one question, one additional
            "0864617461626173650000010001", // database A IN
            "00002904d0000000000000",       // OPT: root name, type 41, class = size 1232
        ))
        .unwrap();
        let m = Message::parse(&bytes).unwrap();
        assert_eq!(m.edns_udp_size(), Some(1232));
        insta::assert_debug_snapshot!("query_with_edns", m);
    }

    #[test]
    fn follows_compression_pointers_and_refuses_loops() {
        // A reply whose answer's name is a pointer to the question's name.
        let mut bytes = Message::query(1, "db.example", TYPE_A).encode().unwrap();
        bytes[7] = 1; // one answer
        bytes.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 9]);
        let m = Message::parse(&bytes).unwrap();
        assert_eq!(m.answers[0].name, "db.example");
        assert_eq!(m.answers[0].data, RData::A(Ipv4Addr::new(10, 0, 0, 9)));

        // A name that points at itself.
        let mut looped = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        looped.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
        assert!(matches!(
            Message::parse(&looped),
            Err(WireError::BadPointer { .. })
        ));
    }

    #[test]
    fn odd_bytes_in_labels_are_escaped_and_come_back() {
        let mut bytes = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        bytes.extend_from_slice(&[3, b'a', b'.', 0xff, 0, 0, 1, 0, 1]);
        let m = Message::parse(&bytes).unwrap();
        assert_eq!(m.questions[0].name, "a\\.\\255");
        assert_eq!(m.encode().unwrap(), bytes);
    }

    #[test]
    fn truncates_what_does_not_fit_and_says_so() {
        let q = Message::query(9, "many", TYPE_A);
        let mut r = Message::reply(&q, Rcode::NoError);
        for i in 0..100u8 {
            r.answers
                .push(Record::a("many", Ipv4Addr::new(10, 0, 0, i), 600));
        }
        let bytes = r.encode_within(UDP_MIN_SIZE).unwrap();
        assert!(bytes.len() <= UDP_MIN_SIZE);
        let back = Message::parse(&bytes).unwrap();
        assert!(back.header.truncated);
        // 12 + 10 of question, then 16 per compressed answer.
        assert_eq!(back.answers.len(), (UDP_MIN_SIZE - 22) / 16);
        assert!(
            !Message::parse(&r.encode().unwrap())
                .unwrap()
                .header
                .truncated
        );
    }

    #[test]
    fn refuses_to_write_bad_names() {
        for name in ["a..b", &"x".repeat(64), &["abcdefghij"; 30].join(".")] {
            assert!(Message::query(1, name, TYPE_A).encode().is_err(), "{name}");
        }
        assert!(Message::query(1, "web.", TYPE_A).encode().is_ok());
    }

    fn label() -> impl Strategy<Value = String> {
        "[a-z0-9_-]{1,20}"
    }

    fn name() -> impl Strategy<Value = String> {
        prop::collection::vec(label(), 1..5).prop_map(|l| l.join("."))
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            let _ = Message::parse(&bytes);
            let _ = Header::parse(&bytes);
        }

        /// Arbitrary bytes after a valid header and question: the reader's worst case.
        #[test]
        fn parse_never_panics_after_a_valid_start(
            tail in prop::collection::vec(any::<u8>(), 0..300),
            counts in any::<[u8; 6]>(),
        ) {
            let mut bytes = web_query();
            bytes[6..12].copy_from_slice(&counts);
            bytes.extend_from_slice(&tail);
            let _ = Message::parse(&bytes);
        }

        #[test]
        fn what_we_build_reads_back(
            id in any::<u16>(),
            qname in name(),
            ips in prop::collection::vec(any::<[u8; 4]>(), 0..10),
            target in name(),
            rcode in 0u8..6,
        ) {
            let q = Message::query(id, &qname, TYPE_A);
            let mut r = Message::reply(&q, Rcode::from_u8(rcode));
            for ip in &ips {
                r.answers.push(Record::a(&qname, Ipv4Addr::from(*ip), 600));
            }
            r.answers.push(Record::ptr(&qname, &target, 30));
            let back = Message::parse(&r.encode().unwrap()).unwrap();
            prop_assert_eq!(back, r);
        }
    }
}
