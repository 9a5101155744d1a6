//! The bytes of stored state: a value as postcard, then LZ4 with its size in front. The
//! checkpoint records of the RocksDB backend and the compressed hand-over files are made this
//! way. Decoding trusts nothing: a size prefix larger than LZ4 could produce from the bytes
//! given (or than 4 GiB) is refused before anything is allocated, and every other damage is an
//! error with the reason, never a panic (fuzzed: `fuzz/fuzz_targets/checkpoint.rs`).

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{PartitionState, StateError};
use crate::delta::SavedState;

/// Largest decompressed value taken (a damaged size prefix must not allocate more).
const MAX_DECOMPRESSED: usize = 1 << 32;

/// LZ4 expands at most this many times (a run of one byte).
const MAX_RATIO: usize = 255;

/// `value` as postcard, compressed.
pub(super) fn encode_compressed<T: Serialize>(value: &T) -> Result<Vec<u8>, StateError> {
    let encoded = postcard::to_allocvec(value).map_err(|e| StateError::Encode(e.to_string()))?;
    Ok(lz4_flex::block::compress_prepend_size(&encoded))
}

/// The bytes `encode_compressed` compressed, checked for a size prefix that cannot be.
pub(super) fn decompress(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let size = bytes
        .get(..4)
        .and_then(|prefix| prefix.try_into().ok())
        .map(|prefix: [u8; 4]| u32::from_le_bytes(prefix) as usize)
        .ok_or("truncated")?;
    if size > MAX_DECOMPRESSED.min(bytes.len().saturating_mul(MAX_RATIO)) {
        return Err(format!("a decompressed size of {size} bytes cannot be"));
    }
    lz4_flex::block::decompress_size_prepended(bytes).map_err(|e| e.to_string())
}

/// A value from the bytes `encode_compressed` made.
fn decode_compressed<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    postcard::from_bytes(&decompress(bytes)?).map_err(|e| e.to_string())
}

/// A checkpoint record of one partition (whole or changes) as stored.
pub fn encode_record(saved: &SavedState) -> Result<Vec<u8>, StateError> {
    encode_compressed(saved)
}

/// A checkpoint record of one partition from its stored bytes.
pub fn decode_record(bytes: &[u8]) -> Result<SavedState, String> {
    decode_compressed(bytes)
}

/// A partition's state from a record of the format before incremental checkpoints, stored
/// `compressed` (LZ4) or as plain postcard.
pub fn decode_legacy_record(bytes: &[u8], compressed: bool) -> Result<PartitionState, String> {
    if compressed {
        decode_compressed(bytes)
    } else {
        postcard::from_bytes(bytes).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::OperatorSnapshot;

    #[test]
    fn a_record_round_trips() {
        let saved = SavedState::Full(OperatorSnapshot {
            watermark: 7,
            ..OperatorSnapshot::default()
        });
        let bytes = encode_record(&saved).expect("encodes");
        assert_eq!(decode_record(&bytes), Ok(saved));
    }

    #[test]
    fn a_size_prefix_that_cannot_be_is_refused_before_allocating() {
        let mut bytes =
            encode_record(&SavedState::Full(OperatorSnapshot::default())).expect("encodes");
        bytes[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        let error = decode_record(&bytes).expect_err("refused");
        assert!(error.contains("cannot be"), "{error}");
        assert_eq!(decode_record(&[1, 2]), Err("truncated".to_string()));
    }
}
