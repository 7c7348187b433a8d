//! Docker's multiplexed stream framing for attach, logs and exec without a TTY: an 8-byte
//! header `[stream, 0, 0, 0, len u32 big-endian]` before each payload; stream 1 is stdout,
//! 2 is stderr. With a TTY the stream is raw bytes, unframed.

pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;

/// Frame `payload` for `stream`.
pub fn encode(stream: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + payload.len());
    out.push(stream);
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Incremental decoder: feed bytes as they arrive, take whole frames out.
#[derive(Default)]
pub struct Decoder {
    buf: Vec<u8>,
}

impl Decoder {
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete frame, if one has arrived.
    pub fn next_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        if self.buf.len() < 8 {
            return None;
        }
        let len = u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]]) as usize;
        if self.buf.len() < 8 + len {
            return None;
        }
        let stream = self.buf[0];
        let payload = self.buf[8..8 + len].to_vec();
        self.buf.drain(..8 + len);
        Some((stream, payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn matches_the_captured_docker_frame() {
        assert_eq!(
            encode(STDOUT, b"hi\n"),
            b"\x01\x00\x00\x00\x00\x00\x00\x03hi\n"
        );
    }

    proptest! {
        #[test]
        fn frames_round_trip_whatever_the_chunking(
            frames in proptest::collection::vec((1u8..3, proptest::collection::vec(any::<u8>(), 0..64)), 0..8),
            cut in 1usize..17,
        ) {
            let wire: Vec<u8> = frames.iter().flat_map(|(s, p)| encode(*s, p)).collect();
            let mut dec = Decoder::default();
            let mut got = Vec::new();
            for chunk in wire.chunks(cut) {
                dec.push(chunk);
                while let Some(f) = dec.next_frame() {
                    got.push(f);
                }
            }
            prop_assert_eq!(got, frames);
        }
    }
}
