use aerie_data::Cid;

/// Response headers for `com.atproto.sync.getBlob`, as the reference PDS sends them.
///
/// Blobs are user-supplied bytes served from the PDS's own origin, so the browser must
/// neither guess a more dangerous type (`nosniff`), nor run anything inside them (the
/// sandboxing CSP covers HTML and SVG), nor render them inline (`attachment`).
pub fn serve_headers(cid: &Cid, mime: &str, size: u64) -> [(&'static str, String); 5] {
    [
        ("content-length", size.to_string()),
        ("content-type", mime.to_owned()),
        ("x-content-type-options", "nosniff".to_owned()),
        // The CID's base32 form needs no quoting beyond the quotes themselves.
        (
            "content-disposition",
            format!("attachment; filename=\"{cid}\""),
        ),
        (
            "content-security-policy",
            "default-src 'none'; sandbox".to_owned(),
        ),
    ]
}
