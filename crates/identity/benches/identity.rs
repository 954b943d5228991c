//! Costs on the request path that involve no network: minting and verifying a service
//! token (both curves), and reading a DID document.
//!
//! Run: `cargo bench -p aerie-identity --bench identity -- --sample-count 50`

use aerie_crypto::{KeyType, PublicKey, SigningKey};
use aerie_identity::DidDocument;
use aerie_identity::IdentityError;
use aerie_identity::service_auth::{self, Audience, Expectations, KeySource, MintRequest};
use aerie_syntax::{Did, Nsid};
use divan::{Bencher, black_box};

fn main() {
    divan::main();
}

const ISS: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const NOW: i64 = 1_700_000_000;

fn key(key_type: KeyType) -> SigningKey {
    SigningKey::from_bytes(key_type, &[0x17; 32]).expect("fixed scalar is valid")
}

fn token(key: &SigningKey) -> String {
    let lxm = Nsid::parse("com.atproto.repo.uploadBlob").unwrap();
    service_auth::mint(
        key,
        &MintRequest {
            iss: &Did::parse(ISS).unwrap(),
            aud: "did:web:pds.example.com#atproto_pds",
            lxm: Some(&lxm),
            iat: NOW,
            exp: NOW + 60,
        },
    )
    .unwrap()
}

/// A key source answering from memory, as a warm resolver cache would.
struct Warm(PublicKey);

impl KeySource for Warm {
    async fn signing_key(&self, _: &Did, _: bool) -> Result<PublicKey, IdentityError> {
        Ok(self.0)
    }
}

#[divan::bench(args = [KeyType::K256, KeyType::P256])]
fn mint(bencher: Bencher, key_type: KeyType) {
    let key = key(key_type);
    bencher.bench_local(|| token(black_box(&key)));
}

#[divan::bench(args = [KeyType::K256, KeyType::P256])]
fn verify(bencher: Bencher, key_type: KeyType) {
    let key = key(key_type);
    let token = token(&key);
    let keys = Warm(key.public_key());
    let aud = Audience::new(Did::parse("did:web:pds.example.com").unwrap())
        .with_service_id("atproto_pds");
    let expect = Expectations {
        audience: Some(&aud),
        lxm: Some("com.atproto.repo.uploadBlob"),
        now: NOW,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    bencher.bench_local(|| {
        rt.block_on(service_auth::verify(black_box(&token), &expect, &keys))
            .unwrap()
    });
}

#[divan::bench]
fn decode_and_check_claims(bencher: Bencher) {
    let token = token(&key(KeyType::K256));
    let aud = Audience::new(Did::parse("did:web:pds.example.com").unwrap())
        .with_service_id("atproto_pds");
    let expect = Expectations {
        audience: Some(&aud),
        lxm: Some("com.atproto.repo.uploadBlob"),
        now: NOW,
    };
    bencher.bench_local(|| {
        let t = service_auth::decode(black_box(&token)).unwrap();
        t.check_claims(&expect).unwrap();
    });
}

#[divan::bench]
fn did_document_signing_key(bencher: Bencher) {
    let did = Did::parse(ISS).unwrap();
    let doc = serde_json::json!({
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": ISS,
        "alsoKnownAs": ["at://alice.example.com"],
        "verificationMethod": [{
            "id": format!("{ISS}#atproto"),
            "type": "Multikey",
            "controller": ISS,
            "publicKeyMultibase": key(KeyType::K256).public_key().to_multikey(),
        }],
        "service": [{
            "id": "#atproto_pds",
            "type": "AtprotoPersonalDataServer",
            "serviceEndpoint": "https://pds.example.com",
        }],
    })
    .to_string();
    bencher.bench_local(|| {
        let doc = DidDocument::from_json(&did, black_box(doc.as_bytes())).unwrap();
        (doc.signing_key().unwrap(), doc.handle(), doc.pds_endpoint())
    });
}
