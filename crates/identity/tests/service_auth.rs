//! Inter-service JWTs: minting, and every rejection by its reference error name.

use std::sync::Mutex;

use aerie_crypto::{KeyType, PublicKey, SigningKey};
use aerie_identity::IdentityError;
use aerie_identity::service_auth::{
    self, Audience, CLOCK_SKEW_SECS, Expectations, KeySource, MintRequest,
};
use aerie_syntax::{Did, Nsid};
use data_encoding::BASE64URL_NOPAD;
use serde_json::{Value, json};

const ISS: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const SERVICE: &str = "did:web:pds.example.com";
const METHOD: &str = "com.atproto.repo.uploadBlob";
const IAT: i64 = 1_700_000_000;
const EXP: i64 = IAT + 60;

fn iss() -> Did {
    Did::parse(ISS).unwrap()
}

fn audience() -> Audience {
    Audience::new(Did::parse(SERVICE).unwrap()).with_service_id("atproto_pds")
}

fn mint_for(key: &SigningKey, aud: &str, lxm: Option<&str>) -> String {
    let lxm = lxm.map(|l| Nsid::parse(l).unwrap());
    service_auth::mint(
        key,
        &MintRequest {
            iss: &iss(),
            aud,
            lxm: lxm.as_ref(),
            iat: IAT,
            exp: EXP,
        },
    )
    .unwrap()
}

fn mint(key: &SigningKey) -> String {
    mint_for(key, SERVICE, Some(METHOD))
}

/// Keys by DID, with a second "current" key served only on a forced refresh: how a
/// resolver behaves right after a rotation it has not seen yet.
struct Keys {
    cached: PublicKey,
    fresh: PublicKey,
    lookups: Mutex<Vec<bool>>,
}

impl Keys {
    fn one(key: &SigningKey) -> Keys {
        Keys::rotated(key, key)
    }

    fn rotated(cached: &SigningKey, fresh: &SigningKey) -> Keys {
        Keys {
            cached: cached.public_key(),
            fresh: fresh.public_key(),
            lookups: Mutex::new(Vec::new()),
        }
    }

    fn lookups(&self) -> Vec<bool> {
        self.lookups.lock().unwrap().clone()
    }
}

impl KeySource for Keys {
    async fn signing_key(
        &self,
        did: &Did,
        force_refresh: bool,
    ) -> Result<PublicKey, IdentityError> {
        self.lookups.lock().unwrap().push(force_refresh);
        if did.as_str() != ISS {
            return Err(IdentityError::DidNotFound {
                did: did.to_string(),
            });
        }
        Ok(if force_refresh {
            self.fresh
        } else {
            self.cached
        })
    }
}

fn expect(aud: &Audience) -> Expectations<'_> {
    Expectations {
        audience: Some(aud),
        lxm: Some(METHOD),
        now: IAT + 1,
    }
}

async fn verify_with(
    token: &str,
    expectations: &Expectations<'_>,
    keys: &Keys,
) -> Result<(), String> {
    service_auth::verify(token, expectations, keys)
        .await
        .map(|_| ())
        .map_err(|e| e.xrpc_error_name().unwrap_or("not a jwt error").to_owned())
}

async fn check(token: &str, keys: &Keys, expected: Result<(), &str>) {
    let aud = audience();
    let got = verify_with(token, &expect(&aud), keys).await;
    assert_eq!(got, expected.map_err(str::to_owned), "token {token}");
}

fn parts(token: &str) -> (Value, Value, String) {
    let mut it = token.split('.');
    let mut json_part = || -> Value {
        serde_json::from_slice(
            &BASE64URL_NOPAD
                .decode(it.next().unwrap().as_bytes())
                .unwrap(),
        )
        .unwrap()
    };
    let header = json_part();
    let claims = json_part();
    (header, claims, it.next().unwrap().to_owned())
}

/// A token with the given header and claims, signed by `key` as a real issuer would.
fn forge(key: &SigningKey, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        BASE64URL_NOPAD.encode(header.to_string().as_bytes()),
        BASE64URL_NOPAD.encode(claims.to_string().as_bytes())
    );
    let sig = key.sign(input.as_bytes());
    format!("{input}.{}", BASE64URL_NOPAD.encode(&sig))
}

fn claims() -> Value {
    json!({"iat": IAT, "iss": ISS, "aud": SERVICE, "exp": EXP, "lxm": METHOD, "jti": "00"})
}

fn header(key: &SigningKey) -> Value {
    json!({"typ": "JWT", "alg": key.key_type().jwt_alg()})
}

#[tokio::test]
async fn minted_tokens_verify_for_both_curves() {
    for kind in [KeyType::K256, KeyType::P256] {
        let key = SigningKey::generate(kind).unwrap();
        let token = mint(&key);
        let keys = Keys::one(&key);
        let aud = audience();
        let claims = service_auth::verify(&token, &expect(&aud), &keys)
            .await
            .unwrap();
        assert_eq!(claims.iss, ISS);
        assert_eq!(claims.aud, SERVICE);
        assert_eq!(claims.lxm.as_deref(), Some(METHOD));
        assert_eq!((claims.iat, claims.exp), (Some(IAT), EXP));
        assert_eq!(
            keys.lookups(),
            [false],
            "{kind}: one cached lookup, no refresh"
        );
    }
}

#[test]
fn minted_header_and_claims_have_the_reference_shape() {
    for kind in [KeyType::K256, KeyType::P256] {
        let key = SigningKey::generate(kind).unwrap();
        let token = mint(&key);
        let (header, claims, sig) = parts(&token);
        assert_eq!(header, json!({"typ": "JWT", "alg": kind.jwt_alg()}));
        let jti = claims["jti"].as_str().unwrap();
        assert_eq!(jti.len(), 32);
        assert!(jti.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(
            claims.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["aud", "exp", "iat", "iss", "jti", "lxm"]
        );
        // Compact signature, 64 bytes, unpadded base64url.
        assert_eq!(BASE64URL_NOPAD.decode(sig.as_bytes()).unwrap().len(), 64);
        assert!(!token.contains('='));
    }
}

#[test]
fn every_token_gets_a_new_jti() {
    let key = SigningKey::generate(KeyType::K256).unwrap();
    let (_, a, _) = parts(&mint(&key));
    let (_, b, _) = parts(&mint(&key));
    assert_ne!(a["jti"], b["jti"]);
}

#[test]
fn token_without_lxm_leaves_it_out() {
    let key = SigningKey::generate(KeyType::K256).unwrap();
    let (_, claims, _) = parts(&mint_for(&key, SERVICE, None));
    assert!(claims.get("lxm").is_none());
}

#[test]
fn mint_refuses_an_audience_that_is_not_a_did() {
    let key = SigningKey::generate(KeyType::K256).unwrap();
    for aud in [
        "https://pds.example.com",
        "did:web:x.com#",
        "did:web:x.com#a#b",
        "",
    ] {
        let err = service_auth::mint(
            &key,
            &MintRequest {
                iss: &iss(),
                aud,
                lxm: None,
                iat: IAT,
                exp: EXP,
            },
        )
        .unwrap_err();
        assert!(
            matches!(err, IdentityError::InvalidAudience { .. }),
            "{aud}"
        );
    }
}

#[tokio::test]
async fn malformed_tokens_are_bad_jwt() {
    let key = SigningKey::generate(KeyType::K256).unwrap();
    let keys = Keys::one(&key);
    let good = mint(&key);
    let (h, c, s) = {
        let mut it = good.split('.');
        (it.next().unwrap(), it.next().unwrap(), it.next().unwrap())
    };
    let b64 = |v: &Value| BASE64URL_NOPAD.encode(v.to_string().as_bytes());
    let mut no_exp = claims();
    no_exp.as_object_mut().unwrap().remove("exp");
    let mut no_iss = claims();
    no_iss.as_object_mut().unwrap().remove("iss");
    let mut string_exp = claims();
    string_exp["exp"] = json!("1700000060");
    let cases = [
        format!("{h}.{c}"),
        format!("{h}.{c}.{s}.{s}"),
        format!("{h}=.{c}.{s}"),
        format!("{h}.{c}.{s}=="),
        format!("{h}.not*base64.{s}"),
        format!("{}.{c}.{s}", BASE64URL_NOPAD.encode(b"not json")),
        format!("{}.{c}.{s}", b64(&json!({"typ": "JWT"}))),
        format!("{}.{c}.{s}", b64(&json!({"typ": "JWT", "alg": "HS256"}))),
        format!("{}.{c}.{s}", b64(&json!({"typ": "JWT", "alg": "none"}))),
        format!("{h}.{}.{s}", b64(&no_exp)),
        format!("{h}.{}.{s}", b64(&no_iss)),
        format!("{h}.{}.{s}", b64(&string_exp)),
        format!("{h}.{}.{s}", b64(&json!([1, 2, 3]))),
        "a".repeat(service_auth::MAX_TOKEN_LEN + 1),
        String::new(),
    ];
    for token in cases {
        check(&token, &keys, Err("BadJwt")).await;
    }
}

#[tokio::test]
async fn access_refresh_and_dpop_types_are_bad_jwt_type() {
    let key = SigningKey::generate(KeyType::K256).unwrap();
    let keys = Keys::one(&key);
    for typ in ["at+jwt", "refresh+jwt", "dpop+jwt"] {
        let token = forge(&key, &json!({"typ": typ, "alg": "ES256K"}), &claims());
        check(&token, &keys, Err("BadJwtType")).await;
    }
    // A missing or other typ is not refused: the spec leaves it open.
    for header in [
        json!({"alg": "ES256K"}),
        json!({"typ": "jwt", "alg": "ES256K"}),
    ] {
        check(&forge(&key, &header, &claims()), &keys, Ok(())).await;
    }
}

#[tokio::test]
async fn expired_token_is_jwt_expired_after_the_skew_allowance() {
    let key = SigningKey::generate(KeyType::K256).unwrap();
    let keys = Keys::one(&key);
    let token = mint(&key);
    let aud = audience();
    let at = |now| Expectations {
        now,
        ..expect(&aud)
    };
    assert_eq!(verify_with(&token, &at(EXP), &keys).await, Ok(()));
    assert_eq!(
        verify_with(&token, &at(EXP + CLOCK_SKEW_SECS), &keys).await,
        Ok(())
    );
    assert_eq!(
        verify_with(&token, &at(EXP + CLOCK_SKEW_SECS + 1), &keys).await,
        Err("JwtExpired".to_owned())
    );
}

#[tokio::test]
async fn audience_must_name_this_service() {
    let key = SigningKey::generate(KeyType::K256).unwrap();
    let keys = Keys::one(&key);
    let cases = [
        (SERVICE.to_owned(), Ok(())),
        (format!("{SERVICE}#atproto_pds"), Ok(())),
        (format!("{SERVICE}#bsky_appview"), Err("BadJwtAudience")),
        (
            "did:web:other.example.com".to_owned(),
            Err("BadJwtAudience"),
        ),
        (
            "did:web:other.example.com#atproto_pds".to_owned(),
            Err("BadJwtAudience"),
        ),
    ];
    for (aud, expected) in cases {
        check(&mint_for(&key, &aud, Some(METHOD)), &keys, expected).await;
    }
}

#[tokio::test]
async fn skipped_audience_check_accepts_any_audience() {
    let key = SigningKey::generate(KeyType::K256).unwrap();
    let keys = Keys::one(&key);
    let token = mint_for(&key, "did:web:other.example.com", Some(METHOD));
    let expectations = Expectations {
        audience: None,
        lxm: Some(METHOD),
        now: IAT,
    };
    assert_eq!(verify_with(&token, &expectations, &keys).await, Ok(()));
}

#[tokio::test]
async fn lexicon_method_must_match_when_required() {
    let key = SigningKey::generate(KeyType::K256).unwrap();
    let keys = Keys::one(&key);
    check(
        &mint_for(&key, SERVICE, None),
        &keys,
        Err("BadJwtLexiconMethod"),
    )
    .await;
    check(
        &mint_for(&key, SERVICE, Some("com.atproto.repo.createRecord")),
        &keys,
        Err("BadJwtLexiconMethod"),
    )
    .await;
    let aud = audience();
    let any_method = Expectations {
        lxm: None,
        ..expect(&aud)
    };
    let token = mint_for(&key, SERVICE, None);
    assert_eq!(verify_with(&token, &any_method, &keys).await, Ok(()));
}

#[tokio::test]
async fn issuer_that_is_not_a_did_or_has_no_key_is_bad_jwt_iss() {
    let key = SigningKey::generate(KeyType::K256).unwrap();
    let keys = Keys::one(&key);
    let mut not_did = claims();
    not_did["iss"] = json!("alice.example.com");
    check(
        &forge(&key, &header(&key), &not_did),
        &keys,
        Err("BadJwtIss"),
    )
    .await;
    let mut unknown = claims();
    unknown["iss"] = json!("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa");
    check(
        &forge(&key, &header(&key), &unknown),
        &keys,
        Err("BadJwtIss"),
    )
    .await;
}

#[tokio::test]
async fn issuer_with_service_fragment_is_checked_against_its_did() {
    let key = SigningKey::generate(KeyType::K256).unwrap();
    let keys = Keys::one(&key);
    let mut c = claims();
    c["iss"] = json!(format!("{ISS}#atproto_labeler"));
    check(&forge(&key, &header(&key), &c), &keys, Ok(())).await;
}

#[tokio::test]
async fn signature_by_another_key_is_bad_jwt_signature() {
    let key = SigningKey::generate(KeyType::K256).unwrap();
    let other = SigningKey::generate(KeyType::K256).unwrap();
    let keys = Keys::one(&key);
    check(&mint(&other), &keys, Err("BadJwtSignature")).await;
    // The one refresh was tried, found the same key, and no third lookup followed.
    assert_eq!(keys.lookups(), [false, true]);
}

#[tokio::test]
async fn tampered_claims_are_bad_jwt_signature() {
    let key = SigningKey::generate(KeyType::K256).unwrap();
    let keys = Keys::one(&key);
    let token = mint(&key);
    let (h, _, s) = parts(&token);
    let mut c = claims();
    c["exp"] = json!(EXP + 3600);
    let tampered = format!(
        "{}.{}.{s}",
        BASE64URL_NOPAD.encode(h.to_string().as_bytes()),
        BASE64URL_NOPAD.encode(c.to_string().as_bytes())
    );
    check(&tampered, &keys, Err("BadJwtSignature")).await;
    // A signature of the wrong length or with out-of-range scalars is refused the same way.
    let input = token.rsplit_once('.').unwrap().0;
    for sig in [vec![1u8; 63], vec![0u8; 64], vec![0xffu8; 64]] {
        let bad = format!("{input}.{}", BASE64URL_NOPAD.encode(&sig));
        check(&bad, &keys, Err("BadJwtSignature")).await;
    }
}

#[tokio::test]
async fn header_alg_never_overrides_the_key_type() {
    // A P-256 issuer; a token claiming ES256K (and signed with a k256 key) must not verify,
    // nor a P-256 signature labelled ES256K.
    let p256 = SigningKey::generate(KeyType::P256).unwrap();
    let k256 = SigningKey::generate(KeyType::K256).unwrap();
    let keys = Keys::one(&p256);
    let es256k = json!({"typ": "JWT", "alg": "ES256K"});
    check(
        &forge(&k256, &es256k, &claims()),
        &keys,
        Err("BadJwtSignature"),
    )
    .await;
    check(
        &forge(&p256, &es256k, &claims()),
        &keys,
        Err("BadJwtSignature"),
    )
    .await;
    check(&forge(&p256, &header(&p256), &claims()), &keys, Ok(())).await;
}

#[tokio::test]
async fn signature_is_checked_once_more_against_a_refreshed_key() {
    let old = SigningKey::generate(KeyType::K256).unwrap();
    let new = SigningKey::generate(KeyType::P256).unwrap();
    let keys = Keys::rotated(&old, &new);
    check(&mint(&new), &keys, Ok(())).await;
    assert_eq!(keys.lookups(), [false, true]);
}

#[tokio::test]
async fn high_s_signatures_are_tolerated_as_by_the_reference() {
    for kind in [KeyType::K256, KeyType::P256] {
        let key = SigningKey::generate(kind).unwrap();
        let keys = Keys::one(&key);
        let token = mint(&key);
        let (input, sig) = token.rsplit_once('.').unwrap();
        let mut sig = BASE64URL_NOPAD.decode(sig.as_bytes()).unwrap();
        let high = order_minus(kind, &sig[32..]);
        sig[32..].copy_from_slice(&high);
        let aerie_err = key.public_key().verify(input.as_bytes(), &sig).unwrap_err();
        assert_eq!(
            aerie_err,
            aerie_crypto::CryptoError::HighS,
            "{kind}: really high-S"
        );
        let flipped = format!("{input}.{}", BASE64URL_NOPAD.encode(&sig));
        check(&flipped, &keys, Ok(())).await;
    }
}

/// `n - s` for the curve order `n`: the other valid `s` of a signature.
fn order_minus(kind: KeyType, s: &[u8]) -> [u8; 32] {
    let n = match kind {
        KeyType::K256 => "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141",
        KeyType::P256 => "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551",
    };
    let n = data_encoding::HEXUPPER.decode(n.as_bytes()).unwrap();
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = n[i] as i16 - s[i] as i16 - borrow;
        borrow = if d < 0 {
            d += 256;
            1
        } else {
            0
        };
        out[i] = d as u8;
    }
    out
}

/// Tokens minted by the reference implementation (`createServiceJwt` of
/// @atproto/xrpc-server with @atproto/crypto keypairs, claims as in this file), with the
/// signer's `did:key`.
const REFERENCE_TOKENS: [(&str, &str); 2] = [
    (
        "did:key:zQ3shmS7VBN4FzXteLcF33tq1aocLE8oBhhj67et46VkkUC4L",
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NksifQ.eyJpYXQiOjE3MDAwMDAwMDAsImlzcyI6ImRpZDpwbGM6ZXd2aTdueHp5b3VuNnpoeHJoczY0b2l6IiwiYXVkIjoiZGlkOndlYjpwZHMuZXhhbXBsZS5jb20jYXRwcm90b19wZHMiLCJleHAiOjE3MDAwMDAwNjAsImx4bSI6ImNvbS5hdHByb3RvLnJlcG8udXBsb2FkQmxvYiIsImp0aSI6IjAyN2RjZmZmZTJkMDE2OTI0MGEyZTE3ZTczMDZjM2YzIn0.kk-43U7piPOMQ9MuNxm-jc0qWDcq720jCJj5_OTQ8CYeXDAsTaxiAcKnucP21UYOnHdQ3OGg3DDGqWBq6Sl5XQ",
    ),
    (
        "did:key:zDnaeqMnJPYRYCJbJa84WjP84Ht8MHpEnRDWj2js7zMh6hbYP",
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9.eyJpYXQiOjE3MDAwMDAwMDAsImlzcyI6ImRpZDpwbGM6ZXd2aTdueHp5b3VuNnpoeHJoczY0b2l6IiwiYXVkIjoiZGlkOndlYjpwZHMuZXhhbXBsZS5jb20jYXRwcm90b19wZHMiLCJleHAiOjE3MDAwMDAwNjAsImx4bSI6ImNvbS5hdHByb3RvLnJlcG8udXBsb2FkQmxvYiIsImp0aSI6IjI5ZDIxZmQyMTg1Mjg1MmE4MmNiZmU4Y2MzMDRlMGZmIn0.KW-BaxdhVrBrGvkGXHFfLNP5E3_woofXVHwvZ6ju_758ZGTgAZ4j8POq2RHdrDtWcakN6AFygI64LgLEA4Ma-g",
    ),
];

#[tokio::test]
async fn tokens_minted_by_the_reference_verify() {
    for (did_key, token) in REFERENCE_TOKENS {
        let key = PublicKey::parse_did_key(did_key).unwrap();
        let keys = Keys {
            cached: key,
            fresh: key,
            lookups: Mutex::new(Vec::new()),
        };
        let aud = audience();
        let claims = service_auth::verify(token, &expect(&aud), &keys)
            .await
            .unwrap();
        assert_eq!(claims.aud, format!("{SERVICE}#atproto_pds"));
        assert_eq!(claims.jti.map(|j| j.len()), Some(32));
        // And a one-byte change anywhere in the claims breaks it.
        let tampered = token.replacen("eyJpYXQiOjE3MDAwMDAwMDAs", "eyJpYXQiOjE3MDAwMDAwMDEs", 1);
        check(&tampered, &keys, Err("BadJwtSignature")).await;
    }
}

#[test]
fn requested_expiry_follows_get_service_auth_rules() {
    use service_auth::requested_expiry;
    let now = IAT;
    let name = |r: Result<i64, IdentityError>| r.map_err(|e| e.xrpc_error_name());
    assert_eq!(requested_expiry(now, None, false), Ok(now + 60));
    assert_eq!(
        name(requested_expiry(now, Some(now - 1), true)),
        Err(Some("BadExpiration"))
    );
    assert_eq!(
        requested_expiry(now, Some(now + 3600), true),
        Ok(now + 3600)
    );
    assert_eq!(
        name(requested_expiry(now, Some(now + 3601), true)),
        Err(Some("BadExpiration"))
    );
    assert_eq!(requested_expiry(now, Some(now + 60), false), Ok(now + 60));
    assert_eq!(
        name(requested_expiry(now, Some(now + 61), false)),
        Err(Some("BadExpiration"))
    );
    assert_eq!(
        name(requested_expiry(now, Some(i64::MIN), false)),
        Err(Some("BadExpiration"))
    );
    assert_eq!(
        name(requested_expiry(now, Some(i64::MAX), true)),
        Err(Some("BadExpiration"))
    );
}

#[test]
fn account_management_methods_are_protected() {
    assert!(service_auth::is_protected_method(
        "com.atproto.server.deactivateAccount"
    ));
    assert!(service_auth::is_protected_method(
        "com.atproto.identity.updateHandle"
    ));
    assert!(!service_auth::is_protected_method(
        "com.atproto.repo.uploadBlob"
    ));
    assert!(!service_auth::is_protected_method(
        "com.atproto.server.createAccount"
    ));
    assert!(service_auth::is_privileged_method(
        "com.atproto.server.createAccount"
    ));
    assert!(service_auth::is_privileged_method(
        "chat.bsky.convo.sendMessage"
    ));
    assert!(!service_auth::is_privileged_method(
        "app.bsky.feed.getTimeline"
    ));
}
