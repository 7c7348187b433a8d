//! A stored layer as a tar again, byte for byte as it came: the tar-split recorded at unpack
//! time gives the headers and padding, `diff/` the files' contents.

use super::{hex_of, io_ctx, LayerError, LayerStore};
use crate::layers::unpack::{rebuild_layer, rebuilt_size, Segment};
use crate::util::fsutil::write_atomic;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// The segments as gzip'd JSON lines, written atomically.
pub(super) fn write_split(path: &Path, segments: &[Segment]) -> io::Result<()> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for s in segments {
        serde_json::to_writer(&mut gz, s)?;
        io::Write::write_all(&mut gz, b"\n")?;
    }
    write_atomic(path, &gz.finish()?)
}

impl LayerStore {
    /// How to rebuild the layer's tar, kept when it was applied.
    fn split_of(&self, chain: &str) -> Result<Vec<Segment>, LayerError> {
        let path = self.layerdb.join(hex_of(chain)).join("tar-split.json.gz");
        let f = fs::File::open(&path).map_err(io_ctx(format!(
            "layer {chain} has no tar-split (stored by an older berth: load or pull the image again)"
        )))?;
        let mut out = Vec::new();
        for line in io::BufRead::lines(io::BufReader::new(flate2::read::GzDecoder::new(f))) {
            let line = line.map_err(io_ctx("reading tar-split"))?;
            out.push(serde_json::from_str(&line).map_err(|e| LayerError::Io {
                context: format!("tar-split of {chain}"),
                source: io::Error::new(io::ErrorKind::InvalidData, e),
            })?);
        }
        Ok(out)
    }

    /// The size of the layer's tar, for a header written before its bytes.
    pub fn layer_tar_size(&self, chain: &str) -> Result<u64, LayerError> {
        Ok(rebuilt_size(&self.split_of(chain)?))
    }

    /// Write the layer's tar exactly as it came (its sha256 is its diff id).
    pub fn write_layer_tar(&self, chain: &str, out: &mut impl io::Write) -> Result<(), LayerError> {
        let segments = self.split_of(chain)?;
        let dir = self.overlay.join(self.cache_of(chain)?).join("diff");
        rebuild_layer(&segments, &dir, out).map_err(io_ctx(format!("rebuilding layer {chain}")))
    }

    /// A reader of the layer's tar exactly as it came, for streaming it into an archive.
    pub fn layer_tar_reader(&self, chain: &str) -> Result<LayerTarReader, LayerError> {
        Ok(LayerTarReader {
            segments: self.split_of(chain)?.into_iter(),
            dir: self.overlay.join(self.cache_of(chain)?).join("diff"),
            current: None,
        })
    }
}

/// Reads a layer's tar from its segments, opening each file as its turn comes.
pub struct LayerTarReader {
    segments: std::vec::IntoIter<Segment>,
    dir: PathBuf,
    current: Option<Box<dyn Read + Send>>,
}

impl Read for LayerTarReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(cur) = self.current.as_mut() {
                let n = cur.read(buf)?;
                if n > 0 {
                    return Ok(n);
                }
                self.current = None;
            }
            match self.segments.next() {
                None => return Ok(0),
                Some(Segment::Raw(bytes)) => self.current = Some(Box::new(io::Cursor::new(bytes))),
                Some(Segment::File { path, size }) => {
                    let rel = crate::layers::clean_entry_path(Path::new(&path))?;
                    let f = fs::File::open(self.dir.join(rel))?;
                    let f = crate::util::fsutil::PrefetchedFile::new(f, size);
                    self.current = Some(Box::new(f.take(size)));
                }
            }
        }
    }
}
