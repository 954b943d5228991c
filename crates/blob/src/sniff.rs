//! MIME type detection from a blob's first bytes.
//!
//! Clients do not reliably say what they upload (the Python SDK sends `Content-Type: */*`),
//! so the stored type comes from magic numbers first, as in the reference PDS (which uses
//! the npm `file-type` library). The names returned here are the ones `file-type` reports
//! for the same formats, because a record's blob ref must carry exactly the stored
//! `mimeType`, and clients that sniff locally with `file-type` must agree with us.
//!
//! Only binary signatures are recognised. Text formats (SVG without an XML declaration,
//! JSON, HTML) are never guessed: they keep the declared type, which is harmless because
//! `getBlob` serves everything with `nosniff` and a sandboxing CSP.

/// How many leading bytes [`sniff`] looks at; more are ignored. Matches `file-type`'s
/// sample size, enough for every signature in the table (all sit in the first few
/// hundred bytes).
pub const SNIFF_LEN: usize = 4100;

/// The fallback for bytes nobody can name.
pub const OCTET_STREAM: &str = "application/octet-stream";

/// The MIME type a blob's leading bytes identify, if any.
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    let head = &head[..head.len().min(SNIFF_LEN)];
    let starts = |sig: &[u8]| head.starts_with(sig);
    let at = |offset: usize, sig: &[u8]| head.get(offset..offset + sig.len()) == Some(sig);

    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Some("image/jpeg");
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Some(if png_is_animated(head) {
            "image/apng"
        } else {
            "image/png"
        });
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return Some("image/gif");
    }
    if starts(b"RIFF") {
        if at(8, b"WEBP") {
            return Some("image/webp");
        }
        if at(8, b"WAVE") {
            return Some("audio/wav");
        }
        if at(8, b"AVI ") {
            return Some("video/vnd.avi");
        }
    }
    if at(4, b"ftyp")
        && let Some(mime) = iso_bmff_brand(head)
    {
        return Some(mime);
    }
    if starts(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return matroska_doctype(head);
    }
    if starts(b"ID3") {
        return Some("audio/mpeg");
    }
    if starts(b"OggS") {
        return Some(ogg_kind(head));
    }
    if starts(b"fLaC") {
        return Some("audio/x-flac");
    }
    if starts(b"%PDF-") {
        return Some("application/pdf");
    }
    if starts(b"II*\0") || starts(b"MM\0*") {
        return Some("image/tiff");
    }
    if starts(&[0xFF, 0x0A]) || starts(b"\0\0\0\x0cJXL \r\n\x87\n") {
        return Some("image/jxl");
    }
    if starts(b"BM") && bmp_header_plausible(head) {
        return Some("image/bmp");
    }
    if starts(&[0, 0, 1, 0]) && head.len() > 4 && head[4] != 0 {
        return Some("image/x-icon");
    }
    if starts(b"PK\x03\x04") {
        return Some("application/zip");
    }
    if starts(&[0x1F, 0x8B, 0x08]) {
        return Some("application/gzip");
    }
    if starts(b"<?xml ") {
        return Some("application/xml");
    }
    // MPEG audio frame sync (11 set bits) comes last: two bytes are a weak signature.
    if head.len() >= 2 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0 {
        return mpeg_audio(head[1]);
    }
    None
}

/// The type to store for an upload: the sniffed type when the bytes say, otherwise the
/// request's `Content-Type` when it names a concrete type (not `*/*`, not empty, not
/// malformed), otherwise `application/octet-stream`.
///
/// The declared type is reduced to its `type/subtype` (parameters dropped, lowercased)
/// because it is later sent back as a response header and compared byte for byte with the
/// `mimeType` of blob refs.
pub fn choose_mime(head: &[u8], declared: Option<&str>) -> String {
    if let Some(mime) = sniff(head) {
        return mime.to_owned();
    }
    declared
        .and_then(normalize_declared)
        .unwrap_or_else(|| OCTET_STREAM.to_owned())
}

fn normalize_declared(declared: &str) -> Option<String> {
    let essence = declared.split(';').next().unwrap_or("").trim();
    let (ty, sub) = essence.split_once('/')?;
    // RFC 9110 tokens only, so the value is always a valid header and never a wildcard.
    let token = |s: &str| {
        !s.is_empty()
            && s.len() <= 127
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    if !token(ty) || !token(sub) {
        return None;
    }
    Some(essence.to_ascii_lowercase())
}

/// APNG is a PNG whose `acTL` chunk comes before the first `IDAT`.
fn png_is_animated(head: &[u8]) -> bool {
    let mut pos: usize = 8;
    while let Some(header) = pos.checked_add(8).and_then(|end| head.get(pos..end)) {
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        match &header[4..8] {
            b"acTL" => return true,
            b"IDAT" => return false,
            _ => {}
        }
        // Length, type, data, CRC.
        match pos.checked_add(12).and_then(|p| p.checked_add(len)) {
            Some(next) => pos = next,
            None => return false,
        }
    }
    false
}

/// ISO base media files (MP4, QuickTime, HEIF, AVIF): the major brand after `ftyp`.
fn iso_bmff_brand(head: &[u8]) -> Option<&'static str> {
    let raw = head.get(8..12)?;
    let brand = std::str::from_utf8(raw).ok()?.trim_end_matches([' ', '\0']);
    if brand.is_empty() {
        return None;
    }
    Some(match brand {
        "avif" | "avis" => "image/avif",
        "mif1" => "image/heif",
        "msf1" => "image/heif-sequence",
        "heic" | "heix" => "image/heic",
        "hevc" | "hevx" => "image/heic-sequence",
        "qt" => "video/quicktime",
        "M4V" | "M4VH" | "M4VP" => "video/x-m4v",
        "M4A" => "audio/x-m4a",
        "M4B" | "F4A" | "F4B" => "audio/mp4",
        "crx" => "image/x-canon-cr3",
        b if b.starts_with("3g2") => "video/3gpp2",
        b if b.starts_with("3g") => "video/3gpp",
        _ => "video/mp4",
    })
}

/// Matroska and WebM share the EBML header; the `DocType` element (id 0x4282) tells them
/// apart.
fn matroska_doctype(head: &[u8]) -> Option<&'static str> {
    let pos = head.windows(2).position(|w| w == [0x42, 0x82])?;
    let size_byte = *head.get(pos + 2)?;
    // A one-byte EBML size: the marker bit 0x80 plus a length up to 127.
    if size_byte & 0x80 == 0 {
        return None;
    }
    let len = usize::from(size_byte & 0x7F);
    let doctype = head.get(pos + 3..pos + 3 + len)?;
    match doctype.strip_suffix(b"\0").unwrap_or(doctype) {
        b"webm" => Some("video/webm"),
        b"matroska" => Some("video/x-matroska"),
        _ => None,
    }
}

/// Ogg carries several codecs; the first packet of the first page (offset 28) names it.
fn ogg_kind(head: &[u8]) -> &'static str {
    let packet = head.get(28..).unwrap_or(&[]);
    if packet.starts_with(b"\x80theora") || packet.starts_with(b"\x01video") {
        "video/ogg"
    } else if packet.starts_with(b"OpusHead")
        || packet.starts_with(b"\x01vorbis")
        || packet.starts_with(b"\x7fFLAC")
        || packet.starts_with(b"Speex  ")
    {
        "audio/ogg"
    } else {
        "application/ogg"
    }
}

/// The DIB header that follows a BMP file header has one of a few fixed sizes; checking it
/// keeps text that happens to start with "BM" from being called an image.
fn bmp_header_plausible(head: &[u8]) -> bool {
    match head.get(14..18) {
        Some(b) => matches!(
            u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            12 | 40 | 52 | 56 | 64 | 108 | 124
        ),
        None => false,
    }
}

/// The second byte of an MPEG audio frame: version (bits 4-3) and layer (bits 2-1).
fn mpeg_audio(second: u8) -> Option<&'static str> {
    let version = (second >> 3) & 0b11;
    let layer = (second >> 1) & 0b11;
    match (version, layer) {
        // Layer bits 00 with a valid version is ADTS, i.e. AAC.
        (0b10 | 0b11, 0b00) => Some("audio/aac"),
        (0b01, _) => None,
        (_, 0b01..=0b11) => Some("audio/mpeg"),
        _ => None,
    }
}
