//! Chunk framing: every value the store writes for a session's streams is one frame.
//!
//! ```text
//! offset size
//!  0     1    frame version (FRAME_VERSION)
//!  1     1    codec: 0 = stored as is, 1 = zstd, 2 = zstd with the HAR dictionary v1
//!  2     4    item count (u32 LE): entries, console entries, ... in this chunk
//!  6     8    written at, ms since the Unix epoch (i64 LE)
//! 14     4    raw length (u32 LE): payload length before compression
//! 18     4    CRC-32 (u32 LE) of bytes 0..18 followed by the stored payload
//! 22     ..   payload (compressed when codec = 1)
//! ```
//!
//! The header is readable without decompressing, so recovery can count items and find the
//! last write time of an interrupted session cheaply. The checksum covers the header and
//! the stored payload, so a torn or overwritten value is detected before decompression.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use zstd::dict::{DecoderDictionary, EncoderDictionary};

pub const FRAME_VERSION: u8 = 1;

/// zstd dictionary trained on HAR entries (see store/scripts/train-dict.sh). Part of the
/// format: frames with codec 2 need exactly these bytes to decompress.
static HAR_DICT_V1: &[u8] = include_bytes!("dict/har-v1.zdict");
pub const HEADER_LEN: usize = 22;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    Raw = 0,
    Zstd = 1,
    /// zstd with [`HAR_DICT_V1`]: HAR entries, pages and headers.
    ZstdHarDict = 2,
}

fn encoder_dict(level: i32) -> &'static EncoderDictionary<'static> {
    static DICTS: OnceLock<Mutex<HashMap<i32, &'static EncoderDictionary<'static>>>> =
        OnceLock::new();
    let mut map = DICTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    map.entry(level)
        .or_insert_with(|| Box::leak(Box::new(EncoderDictionary::copy(HAR_DICT_V1, level))))
}

fn decoder_dict() -> &'static DecoderDictionary<'static> {
    static DICT: OnceLock<DecoderDictionary<'static>> = OnceLock::new();
    DICT.get_or_init(|| DecoderDictionary::copy(HAR_DICT_V1))
}

/// The decoded header of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    pub codec: Codec,
    pub items: u32,
    pub written_at_ms: i64,
    pub raw_len: u32,
}

/// Builds a frame around `payload`, compressing it when `codec` is zstd.
pub fn encode(
    payload: &[u8],
    codec: Codec,
    items: u32,
    written_at_ms: i64,
    level: i32,
) -> std::io::Result<Vec<u8>> {
    let raw_len =
        u32::try_from(payload.len()).map_err(|_| std::io::Error::other("chunk is over 4 GiB"))?;
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len() / 4);
    out.push(FRAME_VERSION);
    out.push(codec as u8);
    out.extend_from_slice(&items.to_le_bytes());
    out.extend_from_slice(&written_at_ms.to_le_bytes());
    out.extend_from_slice(&raw_len.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    match codec {
        Codec::Raw => out.extend_from_slice(payload),
        Codec::Zstd => {
            let mut enc = zstd::bulk::Compressor::new(level)?;
            out.extend_from_slice(&enc.compress(payload)?);
        }
        Codec::ZstdHarDict => {
            let mut enc = zstd::bulk::Compressor::with_prepared_dictionary(encoder_dict(level))?;
            out.extend_from_slice(&enc.compress(payload)?);
        }
    }
    let crc = checksum(&out);
    out[18..22].copy_from_slice(&crc.to_le_bytes());
    Ok(out)
}

fn checksum(frame: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&frame[..18]);
    h.update(&frame[HEADER_LEN..]);
    h.finalize()
}

/// Reads a frame's header without checking its checksum.
pub fn header(frame: &[u8]) -> Result<FrameHeader, String> {
    if frame.len() < HEADER_LEN {
        return Err(format!(
            "chunk is {} bytes, shorter than its header",
            frame.len()
        ));
    }
    if frame[0] != FRAME_VERSION {
        return Err(format!("unknown chunk frame version {}", frame[0]));
    }
    let codec = match frame[1] {
        0 => Codec::Raw,
        1 => Codec::Zstd,
        2 => Codec::ZstdHarDict,
        c => return Err(format!("unknown chunk codec {c}")),
    };
    let u32_at = |i: usize| u32::from_le_bytes(frame[i..i + 4].try_into().expect("4 bytes"));
    Ok(FrameHeader {
        codec,
        items: u32_at(2),
        written_at_ms: i64::from_le_bytes(frame[6..14].try_into().expect("8 bytes")),
        raw_len: u32_at(14),
    })
}

/// Checks a frame and returns its payload, decompressed.
pub fn decode(frame: &[u8]) -> Result<(FrameHeader, Vec<u8>), String> {
    let h = header(frame)?;
    let stored = u32::from_le_bytes(frame[18..22].try_into().expect("4 bytes"));
    if checksum(frame) != stored {
        return Err("checksum mismatch".into());
    }
    let body = &frame[HEADER_LEN..];
    let payload = match h.codec {
        Codec::Raw => body.to_vec(),
        Codec::Zstd => zstd::bulk::decompress(body, h.raw_len as usize)
            .map_err(|e| format!("cannot decompress: {e}"))?,
        Codec::ZstdHarDict => zstd::bulk::Decompressor::with_prepared_dictionary(decoder_dict())
            .and_then(|mut d| d.decompress(body, h.raw_len as usize))
            .map_err(|e| format!("cannot decompress: {e}"))?,
    };
    if payload.len() != h.raw_len as usize {
        return Err(format!(
            "payload is {} bytes, header says {}",
            payload.len(),
            h.raw_len
        ));
    }
    Ok((h, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_detects_damage() {
        let payload = br#"[{"a":1},{"a":2},{"a":3}]"#.repeat(100);
        for codec in [Codec::Raw, Codec::Zstd, Codec::ZstdHarDict] {
            let f = encode(&payload, codec, 3, 1234, 3).unwrap();
            let (h, p) = decode(&f).unwrap();
            assert_eq!(h.items, 3);
            assert_eq!(h.written_at_ms, 1234);
            assert_eq!(p, payload);
            let mut bad = f.clone();
            let last = bad.len() - 1;
            bad[last] ^= 0xff;
            assert!(decode(&bad).unwrap_err().contains("checksum"));
            assert!(decode(&f[..10]).is_err());
        }
    }
}
