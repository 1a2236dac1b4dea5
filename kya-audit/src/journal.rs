//! The merchant's receipt log, shared by every request thread: each receipt is given the
//! next index, signed with it, and acknowledged only once it is durable. Concurrent
//! receipts share one write and one fsync (group commit), so the log's cost per receipt
//! falls as load rises.

use std::path::Path;
use std::sync::{Condvar, Mutex, MutexGuard};

use kya_log::{Checkpoint, FileLog, LogError, TreeSize};

/// Why a receipt could not be logged. A merchant that issues receipts answers 503 rather
/// than act without one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// The log refused or failed the write.
    #[error("the receipt log failed: {0}")]
    Log(#[from] LogError),
    /// An earlier write failed: the log accepts nothing more until it is reopened (the
    /// indexes given out after the failure may not be reused silently).
    #[error("the receipt log stopped after a failed write; reopen it")]
    Stopped,
    /// Building the entry failed (nothing was logged, no index was used).
    #[error("the receipt could not be made: {0}")]
    Entry(String),
}

#[derive(Debug)]
struct State {
    /// The index the next entry gets.
    next: u64,
    /// Entries given an index but not yet written, in index order.
    pending: Vec<Vec<u8>>,
    /// Every index below this is durable.
    durable: u64,
    /// Whether some thread is writing a batch.
    writing: bool,
    stopped: bool,
}

/// A receipt log with group commit over a [`FileLog`].
#[derive(Debug)]
pub struct Journal {
    state: Mutex<State>,
    written: Condvar,
    log: Mutex<FileLog>,
}

impl Journal {
    /// Opens the log at `dir`, creating it when absent.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, JournalError> {
        let log = FileLog::open_or_create(dir)?;
        let size = log.size().0;
        Ok(Self {
            state: Mutex::new(State {
                next: size,
                pending: Vec::new(),
                durable: size,
                writing: false,
                stopped: false,
            }),
            written: Condvar::new(),
            log: Mutex::new(log),
        })
    }

    /// Makes an entry for the next index with `make` and returns once it is durable:
    /// `(index, what make returned)`, whose bytes are the entry. `make` runs under the log's
    /// lock, so indexes are given in order and never skipped; keep it short (building and
    /// signing one receipt).
    pub fn append_with<T, E>(
        &self,
        make: impl FnOnce(u64) -> Result<T, E>,
    ) -> Result<(u64, T), JournalError>
    where
        T: AsRef<[u8]>,
        E: std::fmt::Display,
    {
        let (index, entry) = {
            let mut state = lock(&self.state);
            if state.stopped {
                return Err(JournalError::Stopped);
            }
            let index = state.next;
            let entry = make(index).map_err(|e| JournalError::Entry(e.to_string()))?;
            // Refused here, the entry costs its own request only: in a batch, the log would
            // refuse the write and stop for everyone.
            let len = entry.as_ref().len();
            if len > kya_log::MAX_ENTRY_BYTES {
                return Err(JournalError::Entry(format!(
                    "the entry of {len} bytes is larger than the log's {} bytes",
                    kya_log::MAX_ENTRY_BYTES
                )));
            }
            state.pending.push(entry.as_ref().to_vec());
            state.next += 1;
            (index, entry)
        };
        self.wait_durable(index)?;
        Ok((index, entry))
    }

    /// Waits until `index` is durable, writing the pending batch when no one else is.
    fn wait_durable(&self, index: u64) -> Result<(), JournalError> {
        let mut state = lock(&self.state);
        loop {
            if state.durable > index {
                return Ok(());
            }
            if state.stopped {
                return Err(JournalError::Stopped);
            }
            if state.writing {
                state = match self.written.wait(state) {
                    Ok(s) => s,
                    Err(poisoned) => poisoned.into_inner(),
                };
                continue;
            }
            state.writing = true;
            let batch = std::mem::take(&mut state.pending);
            drop(state);
            let result = write_batch(&self.log, &batch);
            state = lock(&self.state);
            state.writing = false;
            match result {
                Ok(()) => state.durable += batch.len() as u64,
                Err(_) => state.stopped = true,
            }
            self.written.notify_all();
            if state.stopped && state.durable <= index {
                return Err(JournalError::Stopped);
            }
        }
    }

    /// Whether a failed write stopped the log: it takes nothing more until reopened.
    pub fn is_stopped(&self) -> bool {
        lock(&self.state).stopped
    }

    /// The log's size (durable entries).
    pub fn size(&self) -> TreeSize {
        lock(&self.log).size()
    }

    /// The current checkpoint (unsigned) under `origin`.
    pub fn checkpoint(&self, origin: &str) -> Checkpoint {
        lock(&self.log).checkpoint(origin)
    }

    /// Runs `f` with the log (for proofs and export), holding its lock.
    pub fn with_log<T>(&self, f: impl FnOnce(&FileLog) -> T) -> T {
        f(&lock(&self.log))
    }
}

fn write_batch(log: &Mutex<FileLog>, batch: &[Vec<u8>]) -> Result<(), LogError> {
    let mut log = lock(log);
    for chunk in batch.chunks(kya_log::MAX_BATCH) {
        log.append_batch(chunk)?;
    }
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::{Journal, JournalError};

    #[test]
    fn an_entry_too_large_for_the_log_costs_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path()).unwrap();
        let big = vec![b'x'; kya_log::MAX_ENTRY_BYTES + 1];
        let refused = journal.append_with(|_| Ok::<_, JournalError>(big));
        assert!(
            matches!(refused, Err(JournalError::Entry(_))),
            "{refused:?}"
        );
        assert!(!journal.is_stopped());
        // The next entry gets the index the refused one did not use.
        let (index, _) = journal
            .append_with(|_| Ok::<_, JournalError>(b"a receipt".to_vec()))
            .unwrap();
        assert_eq!(index, 0);
        assert_eq!(journal.size().0, 1);
    }
}
