//! Status lists a verifier consults offline (W3C Bitstring Status List v1.0; see
//! [`kya_core::status`]): a credential whose links carry `credentialStatus` entries is
//! admitted only if the verifier holds each named list, the list comes from the link's
//! issuer and is signed by the key that signed the link, it is fresh, and the entry's bit
//! is clear.
//!
//! Lists are files the merchant keeps current (fetched by whatever it trusts to fetch them,
//! or pushed by the issuer): [`StatusLists::load_dir`] verifies every list in a directory.
//! A verifier without lists refuses every credential that names one — a status it cannot
//! check is never taken as clear.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kya_core::status::{LIST_LIMITS, StatusError, VerifiedStatusList};

use crate::held::Held;

/// Where a verifier finds status lists, by the URL credentials name them with.
pub trait StatusListView: Send + Sync {
    /// The verified list whose `id` is `url`, if held.
    fn list(&self, url: &str) -> Option<Arc<VerifiedStatusList>>;

    /// Names the set of lists held: it changes whenever a list is added or replaced, so
    /// that a cached verdict never outlives the list it rests on.
    fn state_id(&self) -> [u8; 32];
}

/// Why a directory of status lists could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StatusListsError {
    /// A file or the directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file is larger than a status list may be.
    #[error("{path} is over {max} bytes")]
    TooLarge {
        /// The path.
        path: PathBuf,
        /// The bound.
        max: usize,
    },
    /// A file is not a verifiable status list credential.
    #[error("{path}: {source}")]
    Invalid {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: StatusError,
    },
    /// Two files hold lists with the same `id`.
    #[error("{first} and {second} both hold the status list {id}")]
    Duplicate {
        /// The list's URL.
        id: String,
        /// One file.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
}

/// Verified status lists held in memory.
#[derive(Debug, Clone)]
pub struct StatusLists {
    lists: Held<VerifiedStatusList>,
}

impl Default for StatusLists {
    fn default() -> Self {
        Self {
            lists: Held::new(b"kya status lists v1"),
        }
    }
}

impl StatusLists {
    /// No lists.
    pub fn new() -> Self {
        Self::default()
    }

    /// Holds `list` (replacing a list with the same `id`).
    pub fn insert(&mut self, list: VerifiedStatusList) {
        let digest = list.digest().0;
        self.lists.insert(list.id().to_owned(), list, digest);
    }

    /// The number of lists held.
    pub fn len(&self) -> usize {
        self.lists.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.lists.len() == 0
    }

    /// Reads and verifies every `*.json` file of `dir` as a status list credential. Any
    /// file that is not one, or two files for one list, fail the whole load: a merchant
    /// learns of a bad file when it loads it, not when a credential silently goes unchecked.
    pub fn load_dir(dir: &Path) -> Result<Self, StatusListsError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| StatusListsError::Io { path, source }
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io(dir))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(io(dir))?;
        files.retain(|p| p.extension().is_some_and(|e| e == "json"));
        files.sort();
        let mut lists = Self::new();
        let mut from: HashMap<String, PathBuf> = HashMap::new();
        for path in files {
            let list = read_list(&path)?;
            if let Some(first) = from.get(list.id()) {
                return Err(StatusListsError::Duplicate {
                    id: list.id().to_owned(),
                    first: first.clone(),
                    second: path,
                });
            }
            from.insert(list.id().to_owned(), path);
            lists.insert(list);
        }
        Ok(lists)
    }
}

fn read_list(path: &Path) -> Result<VerifiedStatusList, StatusListsError> {
    let io = |source| StatusListsError::Io {
        path: path.to_owned(),
        source,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > LIST_LIMITS.max_bytes as u64 {
        return Err(StatusListsError::TooLarge {
            path: path.to_owned(),
            max: LIST_LIMITS.max_bytes,
        });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    VerifiedStatusList::from_slice(&bytes).map_err(|source| StatusListsError::Invalid {
        path: path.to_owned(),
        source,
    })
}

impl StatusListView for StatusLists {
    fn list(&self, url: &str) -> Option<Arc<VerifiedStatusList>> {
        self.lists.get(url)
    }

    fn state_id(&self) -> [u8; 32] {
        self.lists.state()
    }
}

/// Lists a merchant replaces while it runs (a reload after the issuer publishes): readers
/// see one set or the next, never a mix. A poisoned lock answers no list (a refusal).
impl StatusListView for std::sync::RwLock<StatusLists> {
    fn list(&self, url: &str) -> Option<Arc<VerifiedStatusList>> {
        self.read().ok()?.list(url)
    }

    fn state_id(&self) -> [u8; 32] {
        // A poisoned lock answers no list, so whatever is cached against this marker is
        // refused when re-judged.
        self.read().map_or([0xff; 32], |lists| lists.state_id())
    }
}
