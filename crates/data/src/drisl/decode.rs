//! Whole-item decoding into [`Value`].

use super::error::DecodeError;
use super::limits::Limits;
use super::reader::Reader;
use crate::Value;

/// Decode exactly one DRISL item, strictly, with [`Limits::DEFAULT`].
///
/// Beyond the per-item rules of [`Reader`], map keys must be unique and in canonical order,
/// integers must fit `i64`, and no bytes may follow the item. Never panics.
pub fn decode(bytes: &[u8]) -> Result<Value, DecodeError> {
    decode_with(bytes, &Limits::DEFAULT)
}

/// [`decode`] with explicit limits.
pub fn decode_with(bytes: &[u8], limits: &Limits) -> Result<Value, DecodeError> {
    let mut r = Reader::new(bytes);
    let v = r.value(limits)?;
    r.finish()?;
    Ok(v)
}

/// Decode the first DRISL item of `bytes`, returning it and the number of bytes it used
/// (a firehose frame is two items back to back).
pub fn decode_prefix(bytes: &[u8]) -> Result<(Value, usize), DecodeError> {
    decode_prefix_with(bytes, &Limits::DEFAULT)
}

/// [`decode_prefix`] with explicit limits.
pub fn decode_prefix_with(bytes: &[u8], limits: &Limits) -> Result<(Value, usize), DecodeError> {
    let mut r = Reader::new(bytes);
    let v = r.value(limits)?;
    Ok((v, r.position()))
}
