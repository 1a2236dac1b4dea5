#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod note;
pub mod store;
pub mod tiles;
pub mod tree;

pub use note::{Checkpoint, Note, NoteError, NoteSignature, NoteVerifier, SignedCheckpoint};
pub use store::{FileLog, LogError, MAX_BATCH, MAX_ENTRY_BYTES, Recovery};
pub use tiles::{export, tile_path, verify_export};
pub use tree::{
    CompactRange, ConsistencyProof, Hash, InclusionProof, LeafHash, MemoryTree, ProofError, Root,
    TreeSize, verify_consistency, verify_inclusion,
};
