//! Export as static files in the C2SP tlog-tiles layout, and an offline check of such an
//! export against its signed checkpoint.
//!
//! ```text
//! checkpoint                      the signed checkpoint note
//! tile/<L>/<N>[.p/<W>]            hashes of tree level 8·L, 256 per full tile (8,192 bytes)
//! tile/entries/<N>[.p/<W>]        entry bundles: u16 big-endian length || entry, 256 per bundle
//! ```
//!
//! `<N>` is written in 3-digit groups, all but the last prefixed with `x` (`x001/x234/067`);
//! the rightmost tile of a level is partial (`.p/<W>`, W from 1 to 255) when the level's
//! node count is not a multiple of 256.

use std::fs;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

use crate::note::{Checkpoint, MAX_NOTE_BYTES, NoteVerifier, SignedCheckpoint};
use crate::store::{FileLog, LogError, MAX_ENTRY_BYTES};
use crate::tree::{LeafHash, MemoryTree, NodeSource};

const WIDTH: u64 = 256;

/// The path of tile `n` of a level (`"0"`, `"1"`, … or `"entries"`) with `width` hashes.
pub fn tile_path(level: &str, n: u64, width: u64) -> String {
    let digits = n.to_string();
    let pad = (3 - digits.len() % 3) % 3;
    let padded = format!("{}{digits}", "0".repeat(pad));
    let groups: Vec<&str> = (0..padded.len() / 3)
        .map(|i| &padded[i * 3..i * 3 + 3])
        .collect();
    let mut path = format!("tile/{level}/");
    for (i, g) in groups.iter().enumerate() {
        if i + 1 < groups.len() {
            path.push('x');
            path.push_str(g);
            path.push('/');
        } else {
            path.push_str(g);
        }
    }
    if width < WIDTH {
        path.push_str(&format!(".p/{width}"));
    }
    path
}

/// The tiles of one level for a tree of `size` leaves: `(n, width)` pairs.
fn tiles_of_level(size: u64, level: u32) -> impl Iterator<Item = (u64, u64)> {
    let nodes = if 8 * level >= 64 {
        0
    } else {
        size >> (8 * level)
    };
    let full = nodes / WIDTH;
    let partial = nodes % WIDTH;
    (0..full)
        .map(|n| (n, WIDTH))
        .chain((partial > 0).then_some((full, partial)))
}

fn levels(size: u64) -> impl Iterator<Item = u32> {
    (0u32..8).take_while(move |l| size >> (8 * l) > 0)
}

fn write_atomic(out: &Path, rel: &str, bytes: &[u8]) -> Result<(), LogError> {
    let path = out.join(rel);
    let io = |op| {
        let p = path.clone();
        move |source| LogError::Io {
            op,
            path: p,
            source,
        }
    };
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io("create"))?;
    }
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes).map_err(io("write"))?;
    fs::rename(&tmp, &path).map_err(io("rename"))
}

/// Writes the log at the signed checkpoint's size as tlog-tiles static files under `out`.
/// Full tiles and bundles that already exist are kept (they are immutable); partial ones
/// and `checkpoint` are rewritten. The checkpoint must be a head of this log.
pub fn export(log: &FileLog, signed: &SignedCheckpoint, out: &Path) -> Result<(), LogError> {
    let cp = signed.checkpoint();
    let root = log.root_at(cp.size)?;
    if root != cp.root {
        return Err(LogError::Corrupt {
            path: log.dir().to_owned(),
            what: format!("size {}", cp.size),
            reason: format!("checkpoint root {} is not the log's root {root}", cp.root),
        });
    }
    let size = cp.size.0;
    for level in levels(size) {
        for (n, width) in tiles_of_level(size, level) {
            let rel = tile_path(&level.to_string(), n, width);
            if width == WIDTH && out.join(&rel).exists() {
                continue;
            }
            let mut bytes = Vec::with_capacity(width as usize * 32);
            for i in 0..width {
                bytes.extend_from_slice(&log.perfect(8 * level as u8, n * WIDTH + i)?.0);
            }
            write_atomic(out, &rel, &bytes)?;
        }
    }
    for (n, width) in tiles_of_level(size, 0) {
        let rel = tile_path("entries", n, width);
        if width == WIDTH && out.join(&rel).exists() {
            continue;
        }
        let mut bytes = Vec::new();
        for i in 0..width {
            let entry = log.entry(n * WIDTH + i)?;
            bytes.extend_from_slice(&(entry.len() as u16).to_be_bytes());
            bytes.extend_from_slice(&entry);
        }
        write_atomic(out, &rel, &bytes)?;
    }
    write_atomic(out, "checkpoint", signed.as_note().as_bytes())
}

fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, LogError> {
    let io = |op| {
        let p = path.to_owned();
        move |source| LogError::Io {
            op,
            path: p,
            source,
        }
    };
    let file = fs::File::open(path).map_err(io("open"))?;
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(io("read"))?;
    if bytes.len() as u64 > max {
        return Err(io("read")(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {max} bytes"),
        )));
    }
    Ok(bytes)
}

fn mismatch(path: PathBuf, reason: impl Into<String>) -> LogError {
    LogError::Corrupt {
        path,
        what: "export".to_owned(),
        reason: reason.into(),
    }
}

/// Splits an entry bundle into exactly `width` entries.
fn parse_bundle(path: &Path, bytes: &[u8], width: u64) -> Result<Vec<LeafHash>, LogError> {
    let mut leaves = Vec::with_capacity(width as usize);
    let mut rest = bytes;
    while let Some((len, tail)) = rest.split_first_chunk::<2>() {
        let len = usize::from(u16::from_be_bytes(*len));
        let entry = tail
            .get(..len)
            .ok_or_else(|| mismatch(path.to_owned(), "entry runs past the bundle's end"))?;
        leaves.push(LeafHash::of(entry));
        rest = &tail[len..];
    }
    if !rest.is_empty() || leaves.len() as u64 != width {
        return Err(mismatch(
            path.to_owned(),
            format!("bundle does not hold exactly {width} entries"),
        ));
    }
    Ok(leaves)
}

/// Checks an exported directory offline: the checkpoint's signature by `verifier`, every
/// entry bundle, every tile against the hashes recomputed from the entries, and the root.
/// Returns the verified checkpoint.
pub fn verify_export(dir: &Path, verifier: &NoteVerifier) -> Result<Checkpoint, LogError> {
    let note = read_bounded(&dir.join("checkpoint"), MAX_NOTE_BYTES as u64)?;
    let signed = SignedCheckpoint::open(&note, verifier)?;
    let cp = signed.checkpoint().clone();
    let mut tree = MemoryTree::new();
    let max_bundle = WIDTH * (2 + MAX_ENTRY_BYTES as u64);
    for (n, width) in tiles_of_level(cp.size.0, 0) {
        let path = dir.join(tile_path("entries", n, width));
        let bytes = read_bounded(&path, max_bundle)?;
        for leaf in parse_bundle(&path, &bytes, width)? {
            tree.append_leaf(&leaf);
        }
    }
    if tree.size() != cp.size || tree.root() != cp.root {
        return Err(mismatch(
            dir.join("checkpoint"),
            format!("entries give root {} at size {}", tree.root(), tree.size()),
        ));
    }
    for level in levels(cp.size.0) {
        for (n, width) in tiles_of_level(cp.size.0, level) {
            let path = dir.join(tile_path(&level.to_string(), n, width));
            let bytes = read_bounded(&path, WIDTH * 32)?;
            let expected = (0..width)
                .map(|i| tree.perfect(8 * level as u8, n * WIDTH + i))
                .collect::<Result<Vec<_>, _>>()?;
            let ok = bytes.len() as u64 == width * 32
                && bytes.chunks(32).zip(&expected).all(|(a, b)| a == b.0);
            if !ok {
                return Err(mismatch(
                    path,
                    "tile differs from the hashes of the entries",
                ));
            }
        }
    }
    Ok(cp)
}
