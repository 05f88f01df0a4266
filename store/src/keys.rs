//! Key layout of the sled trees (see store/DESIGN.md).

use crate::session::SessionStatus;
use uuid::Uuid;

/// The on-disk format this code writes and reads. Bump it (and add a migration in
/// `Store::open`) on any change to keys, frames or payload encodings.
pub const FORMAT_VERSION: u32 = 1;
/// Key in the default tree holding the format version (u32 BE).
pub const FORMAT_KEY: &[u8] = b"format";

pub const META_TREE: &str = "meta";
pub const INDEX_TREE: &str = "by_start";
pub const CHUNKS_TREE: &str = "chunks";
pub const PENDING_TREE: &str = "pending";

/// Why a session id is in the `pending` tree.
pub const PENDING_IMPORT: u8 = 1;
pub const PENDING_DELETE: u8 = 2;

/// One stream of a session; the byte is part of chunk keys, never renumber.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Stream {
    Pages = 1,
    Entries = 2,
    Console = 3,
    Actions = 4,
    Screenshots = 5,
    RawEvents = 6,
    /// An imported HAR's document without pages and entries (one chunk, seq 0).
    HarHeader = 7,
}

impl Stream {
    pub const ALL: [Stream; 7] = [
        Stream::Pages,
        Stream::Entries,
        Stream::Console,
        Stream::Actions,
        Stream::Screenshots,
        Stream::RawEvents,
        Stream::HarHeader,
    ];

    pub fn from_byte(b: u8) -> Option<Stream> {
        Stream::ALL.into_iter().find(|s| *s as u8 == b)
    }

    pub fn name(self) -> &'static str {
        match self {
            Stream::Pages => "pages",
            Stream::Entries => "entries",
            Stream::Console => "console",
            Stream::Actions => "actions",
            Stream::Screenshots => "screenshots",
            Stream::RawEvents => "raw events",
            Stream::HarHeader => "HAR header",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// `chunks` key: session id (16) ‖ stream (1) ‖ sequence number (u32 BE).
pub fn chunk_key(id: Uuid, stream: Stream, seq: u32) -> [u8; 21] {
    let mut k = [0u8; 21];
    k[..16].copy_from_slice(id.as_bytes());
    k[16] = stream as u8;
    k[17..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// Splits a `chunks` key into its stream byte and sequence number.
pub fn parse_chunk_key(k: &[u8]) -> Option<(u8, u32)> {
    if k.len() != 21 {
        return None;
    }
    Some((k[16], u32::from_be_bytes(k[17..21].try_into().ok()?)))
}

/// `by_start` key: start time in ms since the epoch, sign-flipped u64 BE so that byte order
/// is time order ‖ session id (16).
pub fn index_key(start_ms: i64, id: Uuid) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..8].copy_from_slice(&time_prefix(start_ms));
    k[8..].copy_from_slice(id.as_bytes());
    k
}

pub fn time_prefix(ms: i64) -> [u8; 8] {
    ((ms as u64) ^ (1 << 63)).to_be_bytes()
}

pub fn parse_index_key(k: &[u8]) -> Option<(i64, Uuid)> {
    if k.len() != 24 {
        return None;
    }
    let t = u64::from_be_bytes(k[..8].try_into().ok()?) ^ (1 << 63);
    Some((t as i64, Uuid::from_slice(&k[8..]).ok()?))
}

/// `by_start` value: version (1) ‖ status (1) ‖ the task description, lowercased (UTF-8):
/// enough to filter a listing without reading any metadata.
pub fn index_value(status: SessionStatus, task: &str) -> Vec<u8> {
    let lower = task.to_lowercase();
    let mut v = Vec::with_capacity(2 + lower.len());
    v.push(1);
    v.push(status.to_byte());
    v.extend_from_slice(lower.as_bytes());
    v
}

pub fn parse_index_value(v: &[u8]) -> Option<(SessionStatus, &str)> {
    if v.len() < 2 || v[0] != 1 {
        return None;
    }
    Some((
        SessionStatus::from_byte(v[1])?,
        std::str::from_utf8(&v[2..]).ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_keys_sort_by_time() {
        let id = Uuid::nil();
        let times = [-5_000i64, -1, 0, 1, 1_700_000_000_000, i64::MAX];
        let keys: Vec<_> = times.iter().map(|t| index_key(*t, id)).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        for (t, k) in times.iter().zip(&keys) {
            assert_eq!(parse_index_key(k), Some((*t, id)));
        }
    }
}
