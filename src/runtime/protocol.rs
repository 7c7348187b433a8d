//! The shim's socket protocol: frames of `[kind u8][len u32 big-endian][payload]`.
//! The daemon sends START, STDIN, CLOSE_STDIN and RESIZE (rows and columns, u16 big-endian); the shim answers STARTED or START_FAILED,
//! then streams STDOUT and STDERR, and ends with EXITED.

use std::io::{self, Read, Write};

pub const START: u8 = 1;
pub const STDIN: u8 = 2;
pub const CLOSE_STDIN: u8 = 3;
pub const RESIZE: u8 = 4;
pub const STARTED: u8 = 10;
pub const START_FAILED: u8 = 11;
pub const STDOUT: u8 = 12;
pub const STDERR: u8 = 13;
pub const EXITED: u8 = 14;

/// Frames above this size are refused: a corrupt stream must not make us allocate gigabytes.
pub const MAX_FRAME: usize = 16 << 20;

pub fn encode(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + payload.len());
    out.push(kind);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

pub fn write_frame(w: &mut impl Write, kind: u8, payload: &[u8]) -> io::Result<()> {
    w.write_all(&encode(kind, payload))
}

/// Read one whole frame (blocking); None at a clean end of stream.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<(u8, Vec<u8>)>> {
    let mut head = [0u8; 5];
    match r.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("shim frame of {len} bytes"),
        ));
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload)?;
    Ok(Some((head[0], payload)))
}

/// Incremental decoding for non-blocking readers.
#[derive(Default)]
pub struct FrameBuffer {
    buf: Vec<u8>,
}

impl FrameBuffer {
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    pub fn next_frame(&mut self) -> io::Result<Option<(u8, Vec<u8>)>> {
        if self.buf.len() < 5 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if len > MAX_FRAME {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("shim frame of {len} bytes"),
            ));
        }
        if self.buf.len() < 5 + len {
            return Ok(None);
        }
        let kind = self.buf[0];
        let payload = self.buf[5..5 + len].to_vec();
        self.buf.drain(..5 + len);
        Ok(Some((kind, payload)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn frames_round_trip(frames in proptest::collection::vec((any::<u8>(), proptest::collection::vec(any::<u8>(), 0..100)), 0..6), cut in 1usize..9) {
            let wire: Vec<u8> = frames.iter().flat_map(|(k, p)| encode(*k, p)).collect();
            let mut blocking = &wire[..];
            let mut got = Vec::new();
            while let Some(f) = read_frame(&mut blocking).unwrap() { got.push(f); }
            prop_assert_eq!(&got, &frames);
            let mut fb = FrameBuffer::default();
            let mut got2 = Vec::new();
            for c in wire.chunks(cut) {
                fb.push(c);
                while let Some(f) = fb.next_frame().unwrap() { got2.push(f); }
            }
            prop_assert_eq!(got2, frames);
        }
    }
}
