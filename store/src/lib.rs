//! Spool's session model and its persistence.
//!
//! - [`har`]: HAR 1.2 types that keep every custom field, used everywhere a HAR is read or
//!   written.
//! - [`model`]: a session's streams (console entries, actions, screenshots) and the capture
//!   level, the contract between the engine and the store.
//! - [`Store`]: sessions in an embedded sled database, every stream written in checksummed,
//!   zstd-compressed chunks while recording ([`SessionWriter`]), listed, exported (HAR 1.2 or
//!   JSON, secrets [`redact`]ed by default) and imported from any HAR. See store/DESIGN.md
//!   for the on-disk layout.
//! - [`StoreWriter`]: a writer thread that records many sessions at once off the recorders'
//!   threads, with one flush per batch (group commit); [`StoreSink`] is its `CaptureSink`.
//!
//! This crate knows nothing of CDP.

pub mod error;
mod frame;
mod keys;
mod lock;
pub mod redact;
pub mod session;
mod store;
pub mod writer;

pub use error::StoreError;
pub use har::Har;
pub use model::{
    Action, BrowserInfo, CaptureLevel, ConsoleEntry, ConsoleLevel, ConsoleSource, ImageFormat,
    Screenshot, Viewport,
};
pub use session::{
    ExportOptions, NewSession, Session, SessionEnd, SessionMetadata, SessionPage, SessionQuery,
    SessionSource, SessionStatus, StoreConfig, StoreStats, parse_date_bound,
};
/// The HAR and session model live in `spool-model`; re-exported so the store's API names them.
pub use spool_model::{har, session as model};
pub use store::{SessionWriter, Store};
pub use uuid::Uuid;
pub use writer::{StoreSink, StoreWriter};

/// Internals exposed for the store's own tests and benches (corrupting a chunk on purpose,
/// measuring compression). Not a stable API.
#[doc(hidden)]
pub mod testing {
    use crate::{Store, StoreError, Uuid};

    impl Store {
        /// Keys of every chunk of a session, in order.
        #[doc(hidden)]
        pub fn debug_chunk_keys(&self, id: Uuid) -> Result<Vec<Vec<u8>>, StoreError> {
            self.debug_chunks_tree()
                .scan_prefix(id.as_bytes())
                .keys()
                .map(|k| Ok(k?.to_vec()))
                .collect()
        }

        /// Overwrites a raw value in the chunks tree, bypassing framing.
        #[doc(hidden)]
        pub fn debug_overwrite_chunk(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
            self.debug_chunks_tree().insert(key, value)?;
            Ok(())
        }

        /// The raw value of a key in the chunks tree.
        #[doc(hidden)]
        pub fn debug_chunk_value(&self, key: &[u8]) -> Result<Vec<u8>, StoreError> {
            Ok(self
                .debug_chunks_tree()
                .get(key)?
                .map(|v| v.to_vec())
                .unwrap_or_default())
        }

        /// Number of keys in every tree that mention this session.
        #[doc(hidden)]
        pub fn debug_key_count(&self, id: Uuid) -> Result<usize, StoreError> {
            self.debug_keys_of(id)
        }
    }

    /// Frames `payload` as the store would (zstd at `level`) and returns the stored size.
    pub fn framed_size(payload: &[u8], level: i32) -> usize {
        crate::frame::encode(payload, crate::frame::Codec::ZstdHarDict, 0, 0, level)
            .map(|f| f.len())
            .unwrap_or(0)
    }
}
