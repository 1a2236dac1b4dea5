//! The crash-safe, append-only, file-backed log.
//!
//! A log is a directory:
//!
//! ```text
//! FORMAT    "kya-log v1\n": marks the directory as a log
//! lock      held exclusively (File::try_lock) by the one writer
//! entries   records: u32 little-endian length || leaf hash (32) || entry bytes
//! hashes    every completed subtree hash, 32 bytes each, in the order they complete
//!           (see tree::stored_index): leaf hashes and interior nodes, 2n - popcount(n)
//! offsets   u64 little-endian end offset of each record in `entries`
//! ```
//!
//! An append writes the records, `fdatasync`s `entries`, then writes and syncs `hashes`
//! and `offsets`, and only then returns. `hashes` and `offsets` are derived from
//! `entries`; on open, records past what they cover (a crash between the syncs) are
//! checked and adopted, and a torn tail (a record cut short by a crash) is truncated. A
//! damaged record inside the covered part is reported, never dropped.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, BufReader, Read};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use crate::note::Checkpoint;
use crate::tree::{
    self, CompactRange, ConsistencyProof, Hash, InclusionProof, LeafHash, NodeSource, ProofError,
    Root, TreeSize, stored_count, stored_index,
};

/// The largest entry, in bytes: tlog-tiles entry bundles prefix entries with a `u16` length.
pub const MAX_ENTRY_BYTES: usize = 65_535;
/// The most entries one [`FileLog::append_batch`] takes.
pub const MAX_BATCH: usize = 65_536;
const HEADER: u64 = 4 + 32;
const FORMAT: &[u8] = b"kya-log v1\n";
/// The file that holds [`FORMAT`], written last when a log is created.
const FORMAT_FILE: &str = "FORMAT";

/// Why a log operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// A file system call failed.
    #[error("cannot {op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Another process holds the writer lock.
    #[error("log {path} is locked by another writer")]
    Locked {
        /// The log directory.
        path: PathBuf,
    },
    /// The directory exists and is not empty.
    #[error("cannot create a log in {path}: the directory is not empty")]
    NotEmpty {
        /// The directory.
        path: PathBuf,
    },
    /// The directory is not a kya log (no or wrong `FORMAT` file).
    #[error("{path} is not a kya log directory")]
    NotALog {
        /// The directory.
        path: PathBuf,
    },
    /// Stored data contradicts itself.
    #[error("log {path} is corrupt at {what}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where (entry index or byte offset).
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// The entry is larger than [`MAX_ENTRY_BYTES`].
    #[error("entry of {len} bytes is larger than the {max} allowed")]
    EntryTooLarge {
        /// Its length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// A batch with no entries, or more than [`MAX_BATCH`].
    #[error("a batch must hold 1 to {max} entries, not {len}")]
    BatchSize {
        /// Entries given.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// An earlier write failed; the state on disk is unknown until the log is reopened.
    #[error("an earlier write failed; reopen the log to recover")]
    Poisoned,
    /// A proof could not be made (a size or index outside the log).
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// A checkpoint note was refused.
    #[error(transparent)]
    Note(#[from] crate::note::NoteError),
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> LogError + 'a {
    move |source| LogError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

/// An append-only log stored in a directory, with one writer at a time.
#[derive(Debug)]
pub struct FileLog {
    dir: PathBuf,
    _lock: File,
    entries: File,
    hashes: File,
    offsets: File,
    range: CompactRange,
    entries_len: u64,
    poisoned: bool,
    recovery: Recovery,
}

/// What opening the log repaired after a crash.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Whole, valid records found past the hashes and offsets, and indexed.
    pub adopted: u64,
    /// Bytes of a torn record cut from the end of `entries`.
    pub truncated_bytes: u64,
}

fn sync_dir(path: &Path) -> Result<(), LogError> {
    File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(io_err("sync directory", path))
}

fn lock(dir: &Path) -> Result<File, LogError> {
    let path = dir.join("lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_err("open", &path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(LogError::Locked {
            path: dir.to_owned(),
        }),
        Err(TryLockError::Error(e)) => Err(io_err("lock", &path)(e)),
    }
}

fn open_rw(path: &Path, create: bool) -> Result<File, LogError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(create)
        .open(path)
        .map_err(io_err(if create { "create" } else { "open" }, path))
}

impl FileLog {
    /// Creates an empty log in `dir` (created if missing; an existing directory must be
    /// empty). The files and the directory entries are durable when this returns.
    pub fn create(dir: impl AsRef<Path>) -> Result<Self, LogError> {
        let dir = dir.as_ref();
        match fs::create_dir(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let mut items = fs::read_dir(dir).map_err(io_err("read", dir))?;
                if items.next().is_some() {
                    return Err(LogError::NotEmpty {
                        path: dir.to_owned(),
                    });
                }
            }
            Err(e) => return Err(io_err("create", dir)(e)),
        }
        let lock = lock(dir)?;
        for name in ["entries", "hashes", "offsets"] {
            let path = dir.join(name);
            open_rw(&path, true)?
                .sync_all()
                .map_err(io_err("sync", &path))?;
        }
        // FORMAT last: a directory without it was never a complete log.
        let format = dir.join(FORMAT_FILE);
        let f = open_rw(&format, true)?;
        f.write_all_at(FORMAT, 0)
            .and_then(|()| f.sync_all())
            .map_err(io_err("write", &format))?;
        sync_dir(dir)?;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
        Self::open_locked(dir.to_owned(), lock)
    }

    /// Opens the log in `dir`, or creates it when `dir` holds no log yet (missing or
    /// empty): [`open`](Self::open) when its `FORMAT` file is there, else
    /// [`create`](Self::create).
    pub fn open_or_create(dir: impl AsRef<Path>) -> Result<Self, LogError> {
        let dir = dir.as_ref();
        if dir.join(FORMAT_FILE).exists() {
            Self::open(dir)
        } else {
            Self::create(dir)
        }
    }

    /// Opens an existing log for appending and proving, taking the writer lock; recovers
    /// from a crash (see the module docs).
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, LogError> {
        let dir = dir.as_ref().to_owned();
        let format =
            fs::read(dir.join(FORMAT_FILE)).map_err(|_| LogError::NotALog { path: dir.clone() })?;
        if format != FORMAT {
            return Err(LogError::NotALog { path: dir });
        }
        let lock = lock(&dir)?;
        Self::open_locked(dir, lock)
    }

    fn open_locked(dir: PathBuf, lock: File) -> Result<Self, LogError> {
        let mut log = Self {
            entries: open_rw(&dir.join("entries"), false)?,
            hashes: open_rw(&dir.join("hashes"), false)?,
            offsets: open_rw(&dir.join("offsets"), false)?,
            dir,
            _lock: lock,
            range: CompactRange::default(),
            entries_len: 0,
            poisoned: false,
            recovery: Recovery::default(),
        };
        log.recover()?;
        Ok(log)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn corrupt(&self, file: &str, what: String, reason: impl Into<String>) -> LogError {
        LogError::Corrupt {
            path: self.path(file),
            what,
            reason: reason.into(),
        }
    }

    fn file_len(&self, file: &File, name: &str) -> Result<u64, LogError> {
        file.metadata()
            .map(|m| m.len())
            .map_err(io_err("stat", &self.path(name)))
    }

    /// The number of entries the derived files fully cover.
    fn covered(&self) -> Result<u64, LogError> {
        let by_offsets = self.file_len(&self.offsets, "offsets")? / 8;
        let stored = self.file_len(&self.hashes, "hashes")? / 32;
        // The largest n with stored_count(n) <= stored (stored_count is increasing).
        let (mut lo, mut hi) = (0u64, stored);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if stored_count(mid) <= stored {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        Ok(by_offsets.min(lo))
    }

    fn recover(&mut self) -> Result<(), LogError> {
        let n = self.covered()?;
        let file_len = self.file_len(&self.entries, "entries")?;
        let end = if n == 0 { 0 } else { self.end_offset(n - 1)? };
        if end > file_len {
            return Err(self.corrupt(
                "entries",
                format!("entry {}", n - 1),
                format!("offsets reach byte {end} but the file has {file_len}"),
            ));
        }
        let range = CompactRange::read(&Covered(self, n), n)?;
        self.range = range;
        self.entries_len = end;
        if n > 0 {
            // The last covered record must agree with the stored leaf hash.
            self.entry(n - 1)?;
        }
        // Adopt whole, valid records written after the derived files were last synced.
        let mut adopted = Vec::new();
        let mut pos = end;
        while let Some((len, leaf)) = self.tail_record(pos, file_len)? {
            adopted.push((pos + HEADER + len, leaf));
            pos += HEADER + len;
        }
        self.truncate_to(n, pos, file_len)?;
        self.recovery = Recovery {
            adopted: adopted.len() as u64,
            truncated_bytes: file_len - pos,
        };
        for (record_end, leaf) in adopted {
            self.write_derived(&[leaf], &[record_end])?;
            self.entries_len = record_end;
        }
        Ok(())
    }

    /// Reads the record at `pos` past the covered part: `None` at the end or at a torn
    /// tail (a record cut short, or the last record failing its hash).
    fn tail_record(&self, pos: u64, file_len: u64) -> Result<Option<(u64, LeafHash)>, LogError> {
        if file_len - pos < HEADER {
            return Ok(None);
        }
        let mut header = [0u8; HEADER as usize];
        self.entries
            .read_exact_at(&mut header, pos)
            .map_err(io_err("read", &self.path("entries")))?;
        let (len, leaf) = split_header(&header);
        if len > MAX_ENTRY_BYTES as u64 {
            return Err(self.corrupt(
                "entries",
                format!("byte {pos}"),
                format!("record length {len} is larger than {MAX_ENTRY_BYTES}"),
            ));
        }
        if file_len - pos - HEADER < len {
            return Ok(None);
        }
        let data = self.read_data(pos + HEADER, len)?;
        if LeafHash::of(&data) == leaf {
            return Ok(Some((len, leaf)));
        }
        if pos + HEADER + len == file_len {
            return Ok(None);
        }
        Err(self.corrupt(
            "entries",
            format!("byte {pos}"),
            "a record fails its hash and is followed by more records",
        ))
    }

    fn truncate_to(&mut self, n: u64, entries_end: u64, file_len: u64) -> Result<(), LogError> {
        let cut = |file: &File, name: &str, len: u64| -> Result<(), LogError> {
            let path = self.path(name);
            let now = file.metadata().map_err(io_err("stat", &path))?.len();
            if now > len {
                file.set_len(len)
                    .and_then(|()| file.sync_all())
                    .map_err(io_err("truncate", &path))?;
            }
            Ok(())
        };
        if entries_end < file_len {
            cut(&self.entries, "entries", entries_end)?;
        }
        cut(&self.hashes, "hashes", stored_count(n) * 32)?;
        cut(&self.offsets, "offsets", n * 8)
    }

    fn read_data(&self, pos: u64, len: u64) -> Result<Vec<u8>, LogError> {
        // len is at most MAX_ENTRY_BYTES here: checked by every caller.
        let mut data = vec![0u8; len as usize];
        self.entries
            .read_exact_at(&mut data, pos)
            .map_err(io_err("read", &self.path("entries")))?;
        Ok(data)
    }

    fn end_offset(&self, index: u64) -> Result<u64, LogError> {
        let mut b = [0u8; 8];
        self.offsets
            .read_exact_at(&mut b, index * 8)
            .map_err(io_err("read", &self.path("offsets")))?;
        Ok(u64::from_le_bytes(b))
    }

    fn read_hash(&self, at: u64) -> Result<Hash, io::Error> {
        let mut h = [0u8; 32];
        self.hashes.read_exact_at(&mut h, at * 32)?;
        Ok(Hash(h))
    }

    /// The number of entries.
    pub fn size(&self) -> TreeSize {
        self.range.size()
    }

    /// The current tree head.
    pub fn root(&self) -> Root {
        self.range.root()
    }

    /// What opening this log repaired.
    pub fn recovery(&self) -> Recovery {
        self.recovery
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends one entry; returns its index once it is durable.
    pub fn append(&mut self, entry: &[u8]) -> Result<u64, LogError> {
        self.append_batch(&[entry])
    }

    /// Appends entries in order with one sync per file; returns the first index once all
    /// are durable.
    pub fn append_batch<E: AsRef<[u8]>>(&mut self, entries: &[E]) -> Result<u64, LogError> {
        if self.poisoned {
            return Err(LogError::Poisoned);
        }
        if entries.is_empty() || entries.len() > MAX_BATCH {
            return Err(LogError::BatchSize {
                len: entries.len(),
                max: MAX_BATCH,
            });
        }
        if let Some(e) = entries.iter().find(|e| e.as_ref().len() > MAX_ENTRY_BYTES) {
            return Err(LogError::EntryTooLarge {
                len: e.as_ref().len(),
                max: MAX_ENTRY_BYTES,
            });
        }
        let first = self.size().0;
        let (mut records, mut leaves, mut ends) = (Vec::new(), Vec::new(), Vec::new());
        let mut end = self.entries_len;
        for e in entries {
            let e = e.as_ref();
            let leaf = LeafHash::of(e);
            records.extend_from_slice(&(e.len() as u32).to_le_bytes());
            records.extend_from_slice(&leaf.0);
            records.extend_from_slice(e);
            end += HEADER + e.len() as u64;
            leaves.push(leaf);
            ends.push(end);
        }
        let path = self.path("entries");
        let written = self
            .entries
            .write_all_at(&records, self.entries_len)
            .and_then(|()| self.entries.sync_data());
        if let Err(e) = written {
            self.poisoned = true;
            return Err(io_err("append to", &path)(e));
        }
        self.entries_len = end;
        self.write_derived(&leaves, &ends)?;
        Ok(first)
    }

    /// Writes and syncs the hashes and offsets of new records, then takes them into the
    /// in-memory range. Poisons the log on failure.
    fn write_derived(&mut self, leaves: &[LeafHash], ends: &[u64]) -> Result<(), LogError> {
        let size = self.size().0;
        let mut range = self.range.clone();
        let mut hashes = Vec::with_capacity(leaves.len() * 64);
        for leaf in leaves {
            hashes.extend(range.push(leaf).iter().flat_map(|h| h.0));
        }
        let offsets: Vec<u8> = ends.iter().flat_map(|e| e.to_le_bytes()).collect();
        let result = self
            .hashes
            .write_all_at(&hashes, stored_count(size) * 32)
            .and_then(|()| self.hashes.sync_data())
            .map_err(io_err("append to", &self.dir.join("hashes")))
            .and_then(|()| {
                self.offsets
                    .write_all_at(&offsets, size * 8)
                    .and_then(|()| self.offsets.sync_data())
                    .map_err(io_err("append to", &self.dir.join("offsets")))
            });
        if let Err(e) = result {
            self.poisoned = true;
            return Err(e);
        }
        self.range = range;
        Ok(())
    }

    /// The entry at `index`, checked against its stored leaf hash.
    pub fn entry(&self, index: u64) -> Result<Vec<u8>, LogError> {
        let size = self.size().0;
        if index >= size {
            return Err(ProofError::IndexOutOfRange { index, size }.into());
        }
        let start = if index == 0 {
            0
        } else {
            self.end_offset(index - 1)?
        };
        let end = self.end_offset(index)?;
        let what = || format!("entry {index}");
        let len = end
            .checked_sub(start + HEADER)
            .filter(|l| *l <= MAX_ENTRY_BYTES as u64)
            .ok_or_else(|| self.corrupt("offsets", what(), "offsets out of order"))?;
        let mut header = [0u8; HEADER as usize];
        self.entries
            .read_exact_at(&mut header, start)
            .map_err(io_err("read", &self.path("entries")))?;
        let (stored_len, leaf) = split_header(&header);
        if stored_len != len {
            return Err(self.corrupt("entries", what(), "record length disagrees with offsets"));
        }
        let data = self.read_data(start + HEADER, len)?;
        let expected = self
            .read_hash(stored_index(0, index))
            .map_err(io_err("read", &self.path("hashes")))?;
        if LeafHash::of(&data) != leaf || leaf.as_node() != expected {
            return Err(self.corrupt("entries", what(), "entry does not match its leaf hash"));
        }
        Ok(data)
    }

    /// The leaf hash of entry `index`, from the hash store.
    pub fn leaf_hash(&self, index: u64) -> Result<LeafHash, LogError> {
        Ok(LeafHash(self.perfect(0, index)?.0))
    }

    /// The checkpoint (unsigned) of the current tree under `origin`.
    pub fn checkpoint(&self, origin: &str) -> Checkpoint {
        Checkpoint {
            origin: origin.to_owned(),
            size: self.size(),
            root: self.root(),
            extensions: Vec::new(),
        }
    }

    fn check_size(&self, size: TreeSize) -> Result<(), LogError> {
        if size > self.size() {
            return Err(ProofError::SizesReversed {
                old: size.0,
                new: self.size().0,
            }
            .into());
        }
        Ok(())
    }

    /// The tree head at an earlier (or the current) size.
    pub fn root_at(&self, size: TreeSize) -> Result<Root, LogError> {
        self.check_size(size)?;
        Ok(tree::root_at(self, size)?)
    }

    /// Inclusion proof of entry `index` in the tree of `size` entries.
    pub fn prove_inclusion(&self, index: u64, size: TreeSize) -> Result<InclusionProof, LogError> {
        self.check_size(size)?;
        Ok(tree::prove_inclusion(self, index, size)?)
    }

    /// Consistency proof from the tree of `old` entries to the tree of `new` entries.
    pub fn prove_consistency(
        &self,
        old: TreeSize,
        new: TreeSize,
    ) -> Result<ConsistencyProof, LogError> {
        self.check_size(new)?;
        Ok(tree::prove_consistency(self, old, new)?)
    }

    /// Rereads every entry and recomputes every stored hash and offset, comparing them with
    /// what is stored; returns the size. Slow (reads the whole log): an audit, not a
    /// start-up step.
    pub fn verify_all(&self) -> Result<TreeSize, LogError> {
        let path = self.path("entries");
        let mut reader = BufReader::new(self.entries.try_clone().map_err(io_err("open", &path))?);
        let mut range = CompactRange::default();
        let mut pos = 0u64;
        for index in 0..self.size().0 {
            let what = || format!("entry {index}");
            let mut header = [0u8; HEADER as usize];
            reader
                .read_exact(&mut header)
                .map_err(io_err("read", &path))?;
            let (len, leaf) = split_header(&header);
            if len > MAX_ENTRY_BYTES as u64 {
                return Err(self.corrupt("entries", what(), "record length too large"));
            }
            let mut data = vec![0u8; len as usize];
            reader
                .read_exact(&mut data)
                .map_err(io_err("read", &path))?;
            pos += HEADER + len;
            if LeafHash::of(&data) != leaf {
                return Err(self.corrupt("entries", what(), "entry does not match its hash"));
            }
            let base = stored_count(index);
            for (i, h) in range.push(&leaf).iter().enumerate() {
                let stored = self
                    .read_hash(base + i as u64)
                    .map_err(io_err("read", &self.path("hashes")))?;
                if stored != *h {
                    return Err(self.corrupt("hashes", what(), "stored hash differs"));
                }
            }
            if self.end_offset(index)? != pos {
                return Err(self.corrupt("offsets", what(), "stored offset differs"));
            }
        }
        if range.root() != self.root() || pos != self.entries_len {
            return Err(self.corrupt("entries", "end".to_owned(), "tree head differs"));
        }
        Ok(range.size())
    }
}

fn split_header(header: &[u8; HEADER as usize]) -> (u64, LeafHash) {
    let mut len = [0u8; 4];
    len.copy_from_slice(&header[..4]);
    let mut leaf = [0u8; 32];
    leaf.copy_from_slice(&header[4..]);
    (u64::from(u32::from_le_bytes(len)), LeafHash(leaf))
}

impl NodeSource for FileLog {
    fn perfect(&self, level: u8, index: u64) -> Result<Hash, ProofError> {
        Covered(self, self.size().0).perfect(level, index)
    }
}

/// The log's hash store limited to its first `n` leaves.
struct Covered<'a>(&'a FileLog, u64);

impl NodeSource for Covered<'_> {
    fn perfect(&self, level: u8, index: u64) -> Result<Hash, ProofError> {
        let unavailable = |reason: String| ProofError::Unavailable {
            level,
            index,
            reason,
        };
        let inside = level < 64
            && index
                .checked_add(1)
                .and_then(|i| i.checked_mul(1u64 << level))
                .is_some_and(|last| last <= self.1);
        if !inside {
            return Err(unavailable(format!("not in a tree of {} entries", self.1)));
        }
        self.0
            .read_hash(stored_index(level, index))
            .map_err(|e| unavailable(e.to_string()))
    }
}
