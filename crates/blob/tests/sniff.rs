//! MIME sniffing table: every signature the clients' formats use, the names `file-type`
//! gives them, and the fallback rules for the declared `Content-Type`.

use aerie_blob::{choose_mime, sniff};

fn check(name: &str, head: &[u8], expect: Option<&str>) {
    assert_eq!(sniff(head), expect, "{name}: {head:02x?}");
}

fn iso_bmff(brand: &[u8; 4]) -> Vec<u8> {
    let mut v = vec![0, 0, 0, 0x20];
    v.extend_from_slice(b"ftyp");
    v.extend_from_slice(brand);
    v.extend_from_slice(&[0, 0, 0, 0]);
    v.extend_from_slice(b"isommp41");
    v
}

fn png(chunks: &[&[u8; 4]]) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    for ty in chunks {
        let data: &[u8] = if **ty == *b"IHDR" { &[0; 13] } else { &[0; 8] };
        v.extend_from_slice(&(data.len() as u32).to_be_bytes());
        v.extend_from_slice(*ty);
        v.extend_from_slice(data);
        v.extend_from_slice(&[0; 4]);
    }
    v
}

fn ebml(doctype: &[u8]) -> Vec<u8> {
    let mut v = vec![
        0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81, 0x01, 0x42, 0x82,
    ];
    v.push(0x80 | doctype.len() as u8);
    v.extend_from_slice(doctype);
    v
}

fn ogg(packet: &[u8]) -> Vec<u8> {
    let mut v = b"OggS".to_vec();
    v.resize(28, 0);
    v.extend_from_slice(packet);
    v
}

#[test]
fn images_clients_upload_are_recognised() {
    check("jpeg", b"\xff\xd8\xff\xe0\0\x10JFIF\0", Some("image/jpeg"));
    check("png", &png(&[b"IHDR", b"IDAT"]), Some("image/png"));
    check("gif87", b"GIF87a\x01\0\x01\0", Some("image/gif"));
    check("gif89", b"GIF89a\x01\0\x01\0", Some("image/gif"));
    check("webp", b"RIFF\x24\0\0\0WEBPVP8 ", Some("image/webp"));
    check("avif", &iso_bmff(b"avif"), Some("image/avif"));
    check("avif sequence", &iso_bmff(b"avis"), Some("image/avif"));
    check("heic", &iso_bmff(b"heic"), Some("image/heic"));
    check("heix", &iso_bmff(b"heix"), Some("image/heic"));
    check(
        "heic sequence",
        &iso_bmff(b"hevc"),
        Some("image/heic-sequence"),
    );
    check("heif", &iso_bmff(b"mif1"), Some("image/heif"));
    check(
        "heif sequence",
        &iso_bmff(b"msf1"),
        Some("image/heif-sequence"),
    );
    check("tiff le", b"II*\0\x08\0\0\0", Some("image/tiff"));
    check("tiff be", b"MM\0*\0\0\0\x08", Some("image/tiff"));
    check("jxl codestream", b"\xff\x0a\xfa", Some("image/jxl"));
    check(
        "jxl container",
        b"\0\0\0\x0cJXL \r\n\x87\n",
        Some("image/jxl"),
    );
    let mut bmp = b"BM\x46\0\0\0\0\0\0\0\x36\0\0\0".to_vec();
    bmp.extend_from_slice(&40u32.to_le_bytes());
    check("bmp", &bmp, Some("image/bmp"));
    check("ico", b"\0\0\x01\0\x01\0\x10\x10", Some("image/x-icon"));
}

#[test]
fn animated_png_is_apng_only_when_actl_precedes_idat() {
    check(
        "apng",
        &png(&[b"IHDR", b"acTL", b"IDAT"]),
        Some("image/apng"),
    );
    check(
        "actl after idat",
        &png(&[b"IHDR", b"IDAT", b"acTL"]),
        Some("image/png"),
    );
    // A chunk length that runs off the sample must not confuse the walk.
    let mut truncated = b"\x89PNG\r\n\x1a\n".to_vec();
    truncated.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
    truncated.extend_from_slice(b"IHDR");
    check("huge chunk length", &truncated, Some("image/png"));
}

#[test]
fn video_and_audio_containers_are_recognised() {
    check("mp4 isom", &iso_bmff(b"isom"), Some("video/mp4"));
    check("mp4 mp42", &iso_bmff(b"mp42"), Some("video/mp4"));
    check("quicktime", &iso_bmff(b"qt  "), Some("video/quicktime"));
    check("m4v", &iso_bmff(b"M4V "), Some("video/x-m4v"));
    check("m4a", &iso_bmff(b"M4A "), Some("audio/x-m4a"));
    check("3gp", &iso_bmff(b"3gp4"), Some("video/3gpp"));
    check("3g2", &iso_bmff(b"3g2a"), Some("video/3gpp2"));
    check("webm", &ebml(b"webm"), Some("video/webm"));
    check("matroska", &ebml(b"matroska"), Some("video/x-matroska"));
    check("other ebml", &ebml(b"other"), None);
    check("avi", b"RIFF\0\0\0\0AVI LIST", Some("video/vnd.avi"));
    check("wav", b"RIFF\0\0\0\0WAVEfmt ", Some("audio/wav"));
    check("mp3 id3", b"ID3\x04\0\0\0\0\0\0", Some("audio/mpeg"));
    check("mp3 frame", b"\xff\xfb\x90\x64", Some("audio/mpeg"));
    check(
        "mpeg2 layer3 frame",
        b"\xff\xf3\x90\x64",
        Some("audio/mpeg"),
    );
    check("aac adts", b"\xff\xf1\x50\x80", Some("audio/aac"));
    check("reserved mpeg version", b"\xff\xeb\x90\x64", None);
    check("flac", b"fLaC\0\0\0\x22", Some("audio/x-flac"));
    check("ogg opus", &ogg(b"OpusHead"), Some("audio/ogg"));
    check("ogg vorbis", &ogg(b"\x01vorbis"), Some("audio/ogg"));
    check("ogg theora", &ogg(b"\x80theora"), Some("video/ogg"));
    check("ogg unknown", &ogg(b"????"), Some("application/ogg"));
}

#[test]
fn documents_and_archives_are_recognised() {
    check("pdf", b"%PDF-1.7\n", Some("application/pdf"));
    check("zip", b"PK\x03\x04\x14\0", Some("application/zip"));
    check("gzip", b"\x1f\x8b\x08\0", Some("application/gzip"));
    check(
        "xml declaration",
        b"<?xml version=\"1.0\"?><svg/>",
        Some("application/xml"),
    );
}

#[test]
fn text_and_unknown_bytes_are_not_guessed() {
    check("empty", b"", None);
    check(
        "svg without declaration",
        b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
        None,
    );
    check("json", b"{\"a\":1}", None);
    check("html", b"<!doctype html><html>", None);
    check("plain text", b"hello world", None);
    check(
        "text starting with BM",
        b"BMW drivers unite, a long enough line",
        None,
    );
    check("riff of another kind", b"RIFF\0\0\0\0CDXA", None);
    check("ftyp with empty brand", b"\0\0\0\x10ftyp\0\0\0\0", None);
    check("lone 0xff", b"\xff", None);
    check("truncated ebml", &[0x1A, 0x45, 0xDF, 0xA3], None);
}

#[test]
fn sniffed_type_wins_over_declared_type() {
    assert_eq!(
        choose_mime(b"\xff\xd8\xff\xdb", Some("image/png")),
        "image/jpeg"
    );
    assert_eq!(choose_mime(b"GIF89a", Some("*/*")), "image/gif");
}

#[test]
fn declared_type_is_used_when_sniffing_finds_nothing() {
    assert_eq!(choose_mime(b"hello", Some("text/plain")), "text/plain");
    assert_eq!(
        choose_mime(b"hello", Some("Text/Plain; charset=UTF-8")),
        "text/plain"
    );
    assert_eq!(
        choose_mime(b"<svg/>", Some("image/svg+xml")),
        "image/svg+xml"
    );
}

#[test]
fn wildcard_empty_or_malformed_declared_type_becomes_octet_stream() {
    for declared in [
        None,
        Some(""),
        Some("*/*"),
        Some("image/*"),
        Some("nonsense"),
        Some("a/b c"),
        Some("text/\r\nx"),
    ] {
        assert_eq!(
            choose_mime(b"hello", declared),
            "application/octet-stream",
            "{declared:?}"
        );
    }
}

#[test]
fn only_the_first_sample_is_examined() {
    let mut late = vec![b' '; 5000];
    late.extend_from_slice(b"%PDF-1.7");
    check("signature after the sample", &late, None);
}

proptest::proptest! {
    #[test]
    fn sniffing_never_panics_and_names_only_valid_types(head in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
        if let Some(mime) = sniff(&head) {
            proptest::prop_assert!(mime.contains('/'));
        }
        let chosen = choose_mime(&head, std::str::from_utf8(&head).ok());
        proptest::prop_assert!(chosen.is_ascii() && chosen.contains('/') && !chosen.contains(['\r', '\n', ' ', ';']));
    }

    #[test]
    fn signature_prefixes_with_random_tails_never_panic(
        prefix in proptest::sample::select(vec![&b"\x89PNG\r\n\x1a\n"[..], b"\x1a\x45\xdf\xa3", b"RIFF", b"OggS", b"\0\0\0\x18ftyp", b"BM"]),
        tail in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
    ) {
        let mut head = prefix.to_vec();
        head.extend_from_slice(&tail);
        let _ = sniff(&head);
    }
}

#[test]
fn getblob_headers_match_the_reference() {
    let cid = aerie_data::Cid::for_raw(b"x");
    let headers = aerie_blob::serve_headers(&cid, "image/png", 1);
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("content-length"), Some("1"));
    assert_eq!(get("content-type"), Some("image/png"));
    assert_eq!(get("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        get("content-security-policy"),
        Some("default-src 'none'; sandbox")
    );
    assert_eq!(
        get("content-disposition"),
        Some(format!("attachment; filename=\"{cid}\"").as_str())
    );
}
