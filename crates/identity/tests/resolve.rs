//! Resolution against real servers on loopback: the PLC directory (`aerie_plc::server`), a
//! web server for `/.well-known/*` that routes by `Host`, and a UDP DNS server answering TXT
//! questions from a zone the test edits.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aerie_crypto::{KeyType, SigningKey};
use aerie_identity::service_auth::{self, Audience, Expectations, MintRequest};
use aerie_identity::{DnsConfig, IdentityError, Resolver, ResolverConfig};
use aerie_plc::server::PlcState;
use aerie_plc::{Operation, PlcOperation, SignedOperation};
use aerie_syntax::{Datetime, Did, Handle, Nsid};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{RData, Record, RecordType};
use serde_json::{Value, json};
use tokio::net::{TcpListener, UdpSocket};

/// What the web server answers for one host and path.
#[derive(Clone)]
struct Reply {
    status: u16,
    location: Option<String>,
    body: String,
}

impl Reply {
    fn ok(body: impl Into<String>) -> Reply {
        Reply {
            status: 200,
            location: None,
            body: body.into(),
        }
    }
}

#[derive(Clone, Default)]
struct Web {
    routes: Arc<Mutex<HashMap<(String, String), Reply>>>,
    hits: Arc<Mutex<HashMap<(String, String), usize>>>,
}

impl Web {
    fn set(&self, host: &str, path: &str, reply: Reply) {
        self.routes
            .lock()
            .unwrap()
            .insert((host.to_owned(), path.to_owned()), reply);
    }

    fn hits(&self, host: &str, path: &str) -> usize {
        let key = (host.to_owned(), path.to_owned());
        self.hits.lock().unwrap().get(&key).copied().unwrap_or(0)
    }
}

async fn web_handler(State(web): State<Web>, headers: HeaderMap, uri: Uri) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let host = host.split(':').next().unwrap_or_default().to_owned();
    let key = (host, uri.path().to_owned());
    *web.hits.lock().unwrap().entry(key.clone()).or_default() += 1;
    let reply = web.routes.lock().unwrap().get(&key).cloned();
    match reply {
        None => StatusCode::NOT_FOUND.into_response(),
        Some(r) => {
            let status = StatusCode::from_u16(r.status).unwrap();
            let mut resp = (status, r.body).into_response();
            if let Some(loc) = r.location {
                resp.headers_mut()
                    .insert(header::LOCATION, loc.parse().unwrap());
            }
            resp
        }
    }
}

/// TXT records by owner name (lowercase, no trailing dot); each record is a list of
/// character-strings.
#[derive(Clone, Default)]
struct Zone(Arc<Mutex<HashMap<String, Vec<Vec<String>>>>>);

impl Zone {
    fn set(&self, name: &str, records: &[&[&str]]) {
        let records = records
            .iter()
            .map(|r| r.iter().map(|s| s.to_string()).collect())
            .collect();
        self.0.lock().unwrap().insert(name.to_owned(), records);
    }
}

async fn dns_server(zone: Zone) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let Ok(query) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut resp = Message::response(query.metadata.id, query.metadata.op_code);
            resp.metadata.recursion_desired = query.metadata.recursion_desired;
            resp.metadata.recursion_available = true;
            resp.metadata.authoritative = true;
            for q in &query.queries {
                resp.add_query(q.clone());
                let name = q
                    .name()
                    .to_ascii()
                    .trim_end_matches('.')
                    .to_ascii_lowercase();
                let records = zone.0.lock().unwrap().get(&name).cloned();
                match records {
                    Some(records) if q.query_type() == RecordType::TXT => {
                        for strings in records {
                            resp.add_answer(Record::from_rdata(
                                q.name().clone(),
                                60,
                                RData::TXT(TXT::new(strings)),
                            ));
                        }
                    }
                    Some(_) => {}
                    None => resp.metadata.response_code = ResponseCode::NXDomain,
                }
            }
            let Ok(bytes) = resp.to_vec() else { continue };
            let _ = socket.send_to(&bytes, peer).await;
        }
    });
    addr
}

async fn http_server(router: axum::Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

struct Net {
    plc: PlcState,
    plc_addr: SocketAddr,
    web: Web,
    web_addr: SocketAddr,
    zone: Zone,
    dns_addr: SocketAddr,
}

impl Net {
    async fn start() -> Net {
        let plc = PlcState::in_memory();
        let plc_addr = http_server(aerie_plc::server::router(plc.clone())).await;
        let web = Web::default();
        let web_addr = http_server(
            axum::Router::new()
                .fallback(web_handler)
                .with_state(web.clone()),
        )
        .await;
        let zone = Zone::default();
        let dns_addr = dns_server(zone.clone()).await;
        Net {
            plc,
            plc_addr,
            web,
            web_addr,
            zone,
            dns_addr,
        }
    }

    /// A development configuration: everything under `.test` is served by the web server.
    fn config(&self) -> ResolverConfig {
        ResolverConfig {
            plc_url: format!("http://{}", self.plc_addr),
            dns: DnsConfig::Servers(vec![self.dns_addr]),
            allow_localhost_did_web: true,
            allow_test_tld: true,
            origin_overrides: vec![("test".to_owned(), format!("http://{}", self.web_addr))],
            http_timeout: Duration::from_secs(5),
            dns_timeout: Duration::from_secs(2),
            min_refresh_interval: Duration::ZERO,
            ..ResolverConfig::default()
        }
    }

    fn resolver(&self) -> Resolver {
        Resolver::new(self.config()).unwrap()
    }

    /// Registers a did:plc for `handle` with `signing` as its `#atproto` key.
    fn create_plc(&self, handle: &str, signing: &SigningKey) -> (Did, SignedOperation, SigningKey) {
        let rotation = SigningKey::generate(KeyType::K256).unwrap();
        let (did, op) = aerie_plc::genesis(
            &[rotation.public_key()],
            &signing.public_key(),
            &Handle::parse(handle).unwrap(),
            "https://pds.example.com",
            &rotation,
        )
        .unwrap();
        self.plc.submit(&did, op.clone(), Datetime::now()).unwrap();
        (did, op, rotation)
    }

    /// Serves a did:web document for `host` (through the `.test` override).
    fn serve_did_web(&self, host: &str, doc: &Value) {
        self.web
            .set(host, "/.well-known/did.json", Reply::ok(doc.to_string()));
    }

    fn serve_well_known(&self, handle: &str, body: &str) {
        self.web
            .set(handle, "/.well-known/atproto-did", Reply::ok(body));
    }
}

fn did_web_doc(did: &str, handle: &str, key: &SigningKey) -> Value {
    json!({
        "id": did,
        "alsoKnownAs": [format!("at://{handle}")],
        "verificationMethod": [{
            "id": format!("{did}#atproto"),
            "type": "Multikey",
            "controller": did,
            "publicKeyMultibase": key.public_key().to_multikey(),
        }],
        "service": [{
            "id": "#atproto_pds",
            "type": "AtprotoPersonalDataServer",
            "serviceEndpoint": "https://pds.example.com",
        }],
    })
}

fn did(s: &str) -> Did {
    Did::parse(s).unwrap()
}

fn handle(s: &str) -> Handle {
    Handle::parse(s).unwrap()
}

fn k256() -> SigningKey {
    SigningKey::generate(KeyType::K256).unwrap()
}

#[tokio::test]
async fn plc_did_resolves_from_the_directory() {
    let net = Net::start().await;
    let key = k256();
    let (d, _, _) = net.create_plc("alice.test", &key);
    let doc = net.resolver().resolve_did(&d).await.unwrap();
    assert_eq!(doc.id, d);
    assert_eq!(doc.signing_key().unwrap(), key.public_key());
    assert_eq!(doc.handle(), Some(handle("alice.test")));
    assert_eq!(
        doc.pds_endpoint().as_deref(),
        Some("https://pds.example.com")
    );
}

#[tokio::test]
async fn unknown_plc_did_is_not_found() {
    let net = Net::start().await;
    let err = net
        .resolver()
        .resolve_did(&did("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"))
        .await
        .unwrap_err();
    assert!(matches!(err, IdentityError::DidNotFound { .. }), "{err}");
}

#[tokio::test]
async fn malformed_plc_identifier_is_not_found_without_a_request() {
    let net = Net::start().await;
    // A directory nobody listens on: any request would fail as a network error.
    let r = Resolver::new(ResolverConfig {
        plc_url: "http://127.0.0.1:1".to_owned(),
        ..net.config()
    })
    .unwrap();
    let err = r
        .resolve_did(&did("did:plc:ewvi7nxzyoun6zhxrhs64oiz"))
        .await
        .unwrap_err();
    assert!(matches!(err, IdentityError::Http { .. }), "{err}");
    for bad in [
        "did:plc:short",
        "did:plc:%2E%2E",
        "did:plc:AAAAAAAAAAAAAAAAAAAAAAAA",
        "did:plc:aaaaaaaaaaaaaaaaaaaaaaa1",
    ] {
        let err = r.resolve_did(&did(bad)).await.unwrap_err();
        assert!(
            matches!(err, IdentityError::DidNotFound { .. }),
            "{bad}: {err}"
        );
    }
}

#[tokio::test]
async fn unsupported_did_method_is_refused() {
    let net = Net::start().await;
    let err = net
        .resolver()
        .resolve_did(&did(
            "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme",
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(err, IdentityError::UnsupportedDidMethod { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn did_web_localhost_with_encoded_port_resolves_in_development() {
    let net = Net::start().await;
    let key = k256();
    let d = format!("did:web:localhost%3A{}", net.web_addr.port());
    net.serve_did_web("localhost", &did_web_doc(&d, "bob.test", &key));
    let doc = net.resolver().resolve_did(&did(&d)).await.unwrap();
    assert_eq!(doc.signing_key().unwrap(), key.public_key());

    let production = Resolver::new(ResolverConfig {
        allow_localhost_did_web: false,
        ..net.config()
    })
    .unwrap();
    let err = production.resolve_did(&did(&d)).await.unwrap_err();
    assert!(matches!(err, IdentityError::InvalidDidWeb { .. }), "{err}");
}

#[tokio::test]
async fn did_web_host_resolves_through_its_well_known_did_json() {
    let net = Net::start().await;
    let key = k256();
    net.serve_did_web(
        "carol.test",
        &did_web_doc("did:web:carol.test", "carol.test", &key),
    );
    let resolver = net.resolver();
    assert_eq!(
        resolver
            .did_document_url(&did("did:web:carol.test"))
            .unwrap()
            .as_str(),
        format!(
            "http://carol.test:{}/.well-known/did.json",
            net.web_addr.port()
        )
    );
    let doc = resolver
        .resolve_did(&did("did:web:carol.test"))
        .await
        .unwrap();
    assert_eq!(doc.signing_key().unwrap(), key.public_key());
}

#[tokio::test]
async fn did_web_urls_follow_the_spec() {
    let resolver = Resolver::new(ResolverConfig {
        dns: DnsConfig::Servers(vec!["127.0.0.1:53".parse().unwrap()]),
        ..ResolverConfig::default()
    })
    .unwrap();
    assert_eq!(
        resolver
            .did_document_url(&did("did:web:example.com"))
            .unwrap()
            .as_str(),
        "https://example.com/.well-known/did.json"
    );
    for bad in [
        "did:web:example.com:user:alice",
        "did:web:example.com%3A8080",
        "did:web:localhost%3A2583",
        "did:web:example.com%2Fpath",
        "did:web:nodots",
        "did:web:example.local",
        "did:web:example.test",
    ] {
        let err = resolver.did_document_url(&did(bad)).unwrap_err();
        assert!(
            matches!(err, IdentityError::InvalidDidWeb { .. }),
            "{bad}: {err}"
        );
    }
}

#[tokio::test]
async fn document_for_another_did_is_refused() {
    let net = Net::start().await;
    net.serve_did_web(
        "dave.test",
        &did_web_doc("did:web:erin.test", "dave.test", &k256()),
    );
    let err = net
        .resolver()
        .resolve_did(&did("did:web:dave.test"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, IdentityError::DocumentIdMismatch { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn oversized_did_document_is_refused() {
    let net = Net::start().await;
    let mut doc = did_web_doc("did:web:big.test", "big.test", &k256());
    doc["padding"] = json!("x".repeat(200_000));
    net.serve_did_web("big.test", &doc);
    let err = net
        .resolver()
        .resolve_did(&did("did:web:big.test"))
        .await
        .unwrap_err();
    assert!(matches!(err, IdentityError::Http { .. }), "{err}");
}

#[tokio::test]
async fn did_document_redirects_are_not_followed() {
    let net = Net::start().await;
    net.web.set(
        "moved.test",
        "/.well-known/did.json",
        Reply {
            status: 302,
            location: Some("/elsewhere.json".to_owned()),
            body: String::new(),
        },
    );
    net.web.set(
        "moved.test",
        "/elsewhere.json",
        Reply::ok(did_web_doc("did:web:moved.test", "moved.test", &k256()).to_string()),
    );
    let err = net
        .resolver()
        .resolve_did(&did("did:web:moved.test"))
        .await
        .unwrap_err();
    assert!(matches!(err, IdentityError::Http { .. }), "{err}");
}

#[tokio::test]
async fn handle_resolves_by_dns_txt() {
    let net = Net::start().await;
    let alice = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
    net.zone.set(
        "_atproto.alice.test",
        &[&["v=spf1 -all"], &[&format!("did={alice}")]],
    );
    let r = net.resolver();
    assert_eq!(
        r.resolve_handle_dns(&handle("alice.test")).await.unwrap(),
        Some(did(alice))
    );
    assert_eq!(
        r.resolve_handle(&handle("alice.test")).await.unwrap(),
        did(alice)
    );
}

#[tokio::test]
async fn txt_value_split_across_character_strings_is_joined() {
    let net = Net::start().await;
    net.zone.set(
        "_atproto.split.test",
        &[&["did=did:plc:ewvi7nxz", "youn6zhxrhs64oiz"]],
    );
    let got = net
        .resolver()
        .resolve_handle_dns(&handle("split.test"))
        .await
        .unwrap();
    assert_eq!(got, Some(did("did:plc:ewvi7nxzyoun6zhxrhs64oiz")));
}

#[tokio::test]
async fn conflicting_dns_records_fail_resolution() {
    let net = Net::start().await;
    net.zone.set(
        "_atproto.twice.test",
        &[
            &["did=did:plc:ewvi7nxzyoun6zhxrhs64oiz"],
            &["did=did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"],
        ],
    );
    // The well-known answer does not rescue a handle whose DNS is contradictory.
    net.serve_well_known("twice.test", "did:plc:ewvi7nxzyoun6zhxrhs64oiz");
    let err = net
        .resolver()
        .resolve_handle(&handle("twice.test"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, IdentityError::AmbiguousHandle { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn duplicate_records_of_one_did_are_not_a_conflict() {
    let net = Net::start().await;
    let d = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
    net.zone.set(
        "_atproto.dup.test",
        &[
            &[&format!("did={d}")],
            &[&format!("did={d}")],
            &["did=not-a-did"],
        ],
    );
    let got = net
        .resolver()
        .resolve_handle(&handle("dup.test"))
        .await
        .unwrap();
    assert_eq!(got, did(d));
}

#[tokio::test]
async fn handle_resolves_by_well_known_when_dns_has_nothing() {
    let net = Net::start().await;
    let d = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
    net.serve_well_known("web.test", &format!("  {d}\n"));
    let r = net.resolver();
    assert_eq!(
        r.resolve_handle_dns(&handle("web.test")).await.unwrap(),
        None
    );
    assert_eq!(r.resolve_handle(&handle("web.test")).await.unwrap(), did(d));
}

#[tokio::test]
async fn dns_answer_is_preferred_over_well_known() {
    let net = Net::start().await;
    net.zone.set(
        "_atproto.both.test",
        &[&["did=did:plc:ewvi7nxzyoun6zhxrhs64oiz"]],
    );
    net.serve_well_known("both.test", "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa");
    let got = net
        .resolver()
        .resolve_handle(&handle("both.test"))
        .await
        .unwrap();
    assert_eq!(got, did("did:plc:ewvi7nxzyoun6zhxrhs64oiz"));
}

#[tokio::test]
async fn well_known_that_is_not_a_did_does_not_resolve() {
    let net = Net::start().await;
    let r = net.resolver();
    for (name, reply) in [
        ("html.test", Reply::ok("<html>hello</html>")),
        (
            "two.test",
            Reply::ok("did:plc:ewvi7nxzyoun6zhxrhs64oiz did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"),
        ),
        (
            "err.test",
            Reply {
                status: 500,
                location: None,
                body: "did:plc:ewvi7nxzyoun6zhxrhs64oiz".to_owned(),
            },
        ),
    ] {
        net.web.set(name, "/.well-known/atproto-did", reply);
        assert_eq!(
            r.resolve_handle_http(&handle(name)).await.unwrap(),
            None,
            "{name}"
        );
        let err = r.resolve_handle(&handle(name)).await.unwrap_err();
        assert!(
            matches!(err, IdentityError::HandleNotFound { .. }),
            "{name}: {err}"
        );
    }
    let err = r.resolve_handle(&handle("nobody.test")).await.unwrap_err();
    assert!(matches!(err, IdentityError::HandleNotFound { .. }), "{err}");
}

#[tokio::test]
async fn oversized_well_known_body_is_refused() {
    let net = Net::start().await;
    let body = format!("did:plc:{}", "a".repeat(10_000));
    net.serve_well_known("huge.test", &body);
    let err = net
        .resolver()
        .resolve_handle_http(&handle("huge.test"))
        .await
        .unwrap_err();
    assert!(matches!(err, IdentityError::Http { .. }), "{err}");
}

#[tokio::test]
async fn well_known_redirects_are_followed_up_to_the_limit() {
    let net = Net::start().await;
    let d = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
    let redirect = |to: &str| Reply {
        status: 302,
        location: Some(to.to_owned()),
        body: String::new(),
    };
    net.web
        .set("hop.test", "/.well-known/atproto-did", redirect("/one"));
    net.web.set("hop.test", "/one", redirect("/two"));
    net.web.set("hop.test", "/two", Reply::ok(d));
    let config = net.config();
    let r = Resolver::new(config.clone()).unwrap();
    assert_eq!(
        r.resolve_handle_http(&handle("hop.test")).await.unwrap(),
        Some(did(d))
    );

    let strict = Resolver::new(ResolverConfig {
        max_redirects: 1,
        ..config
    })
    .unwrap();
    let err = strict
        .resolve_handle_http(&handle("hop.test"))
        .await
        .unwrap_err();
    assert!(matches!(err, IdentityError::Http { .. }), "{err}");
}

#[tokio::test]
async fn reserved_tlds_are_never_looked_up() {
    let net = Net::start().await;
    let production = Resolver::new(ResolverConfig {
        allow_test_tld: false,
        ..net.config()
    })
    .unwrap();
    for name in ["alice.test", "alice.local", "alice.onion", "alice.internal"] {
        let err = production.resolve_handle(&handle(name)).await.unwrap_err();
        assert!(
            matches!(err, IdentityError::DisallowedHandle { .. }),
            "{name}: {err}"
        );
    }
    assert_eq!(net.web.hits("alice.test", "/.well-known/atproto-did"), 0);
}

#[tokio::test]
async fn handle_verified_both_ways() {
    let net = Net::start().await;
    let key = k256();
    let (d, _, _) = net.create_plc("frank.test", &key);
    net.zone
        .set("_atproto.frank.test", &[&[&format!("did={d}")]]);
    let r = net.resolver();
    let id = r.verify_handle(&handle("frank.test")).await.unwrap();
    assert_eq!(
        (id.did.clone(), id.handle.clone()),
        (d.clone(), Some(handle("frank.test")))
    );
    let id = r.resolve_identity(&d).await.unwrap();
    assert_eq!(id.handle, Some(handle("frank.test")));
}

#[tokio::test]
async fn handle_pointing_at_a_did_that_does_not_claim_it_fails_verification() {
    let net = Net::start().await;
    let (d, _, _) = net.create_plc("grace.test", &k256());
    // mallory.test points at grace's DID, whose document claims grace.test.
    net.zone
        .set("_atproto.mallory.test", &[&[&format!("did={d}")]]);
    let r = net.resolver();
    let err = r.verify_handle(&handle("mallory.test")).await.unwrap_err();
    assert!(matches!(err, IdentityError::HandleMismatch { .. }), "{err}");
    // And grace.test itself does not point back: the identity has no verified handle.
    let id = r.resolve_identity(&d).await.unwrap();
    assert_eq!(id.handle, None);
}

#[tokio::test]
async fn cached_document_is_served_until_refreshed() {
    let net = Net::start().await;
    let (old, new) = (k256(), k256());
    let host = "henry.test";
    let d = did("did:web:henry.test");
    net.serve_did_web(host, &did_web_doc(d.as_str(), host, &old));
    let r = net.resolver();
    assert_eq!(
        r.resolve_did(&d).await.unwrap().signing_key().unwrap(),
        old.public_key()
    );
    net.serve_did_web(host, &did_web_doc(d.as_str(), host, &new));
    assert_eq!(
        r.resolve_did(&d).await.unwrap().signing_key().unwrap(),
        old.public_key()
    );
    assert_eq!(net.web.hits(host, "/.well-known/did.json"), 1);
    assert_eq!(
        r.refresh_did(&d).await.unwrap().signing_key().unwrap(),
        new.public_key()
    );
    assert_eq!(
        r.resolve_did(&d).await.unwrap().signing_key().unwrap(),
        new.public_key()
    );
    assert_eq!(net.web.hits(host, "/.well-known/did.json"), 2);
}

#[tokio::test]
async fn stale_document_is_served_while_refetched_in_the_background() {
    let net = Net::start().await;
    let (old, new) = (k256(), k256());
    let host = "ivy.test";
    let d = did("did:web:ivy.test");
    net.serve_did_web(host, &did_web_doc(d.as_str(), host, &old));
    let r = Resolver::new(ResolverConfig {
        fresh_for: Duration::ZERO,
        stale_for: Duration::from_secs(3600),
        ..net.config()
    })
    .unwrap();
    r.resolve_did(&d).await.unwrap();
    net.serve_did_web(host, &did_web_doc(d.as_str(), host, &new));
    // Stale: answered at once from the cache, with a refetch started behind it.
    assert_eq!(
        r.resolve_did(&d).await.unwrap().signing_key().unwrap(),
        old.public_key()
    );
    let mut seen_new = false;
    for _ in 0..500 {
        if r.resolve_did(&d).await.unwrap().signing_key().unwrap() == new.public_key() {
            seen_new = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(seen_new, "background refresh never landed");
}

#[tokio::test]
async fn tombstoned_plc_did_is_deactivated() {
    let net = Net::start().await;
    let (d, genesis, rotation) = net.create_plc("jack.test", &k256());
    let tomb = Operation::Tombstone {
        prev: genesis.cid().to_string(),
    }
    .sign(&rotation);
    net.plc.submit(&d, tomb, Datetime::now()).unwrap();
    let err = net.resolver().resolve_did(&d).await.unwrap_err();
    assert!(matches!(err, IdentityError::DidDeactivated { .. }), "{err}");
}

#[tokio::test]
async fn service_auth_verifies_against_the_resolved_key_and_follows_a_rotation() {
    let net = Net::start().await;
    let (old, new) = (k256(), SigningKey::generate(KeyType::P256).unwrap());
    let (d, genesis, rotation) = net.create_plc("kate.test", &old);
    let resolver = net.resolver();
    let service = Audience::new(did("did:web:pds.test")).with_service_id("atproto_pds");
    let method = Nsid::parse("com.atproto.server.createAccount").unwrap();
    let now = 1_700_000_000;
    let mint = |key: &SigningKey| {
        service_auth::mint(
            key,
            &MintRequest {
                iss: &d,
                aud: "did:web:pds.test#atproto_pds",
                lxm: Some(&method),
                iat: now,
                exp: now + 60,
            },
        )
        .unwrap()
    };
    let expect = Expectations {
        audience: Some(&service),
        lxm: Some(method.as_str()),
        now,
    };
    let claims = service_auth::verify(&mint(&old), &expect, &resolver)
        .await
        .unwrap();
    assert_eq!(claims.iss, d.as_str());

    // The account rotates its signing key at the directory; the resolver still caches the
    // old document, so the first check fails and the refetched key is tried once.
    let mut next = PlcOperation::following(&genesis).unwrap();
    next.verification_methods
        .insert("atproto".to_owned(), new.public_key().to_did_key());
    net.plc
        .submit(&d, Operation::Plc(next).sign(&rotation), Datetime::now())
        .unwrap();
    service_auth::verify(&mint(&new), &expect, &resolver)
        .await
        .unwrap();
    // The old key no longer verifies.
    let err = service_auth::verify(&mint(&old), &expect, &resolver)
        .await
        .unwrap_err();
    assert_eq!(err.xrpc_error_name(), Some("BadJwtSignature"));

    // An issuer the directory does not know is BadJwtIss.
    let stranger = service_auth::mint(
        &old,
        &MintRequest {
            iss: &did("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"),
            aud: "did:web:pds.test",
            lxm: Some(&method),
            iat: now,
            exp: now + 60,
        },
    )
    .unwrap();
    let err = service_auth::verify(&stranger, &expect, &resolver)
        .await
        .unwrap_err();
    assert_eq!(err.xrpc_error_name(), Some("BadJwtIss"));
}

#[tokio::test]
async fn lookups_named_by_strangers_never_reach_private_addresses() {
    let net = Net::start().await;
    let production_like = Resolver::new(ResolverConfig {
        allow_localhost_did_web: false,
        allow_private_addresses: false,
        ..net.config()
    })
    .unwrap();
    let d = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
    let port = net.web_addr.port();
    // The web server is reached through the operator's override; the redirects it hands
    // out must not lead to loopback by name, nor to private or metadata addresses.
    net.web.set("localhost", "/x", Reply::ok(d));
    for (name, target) in [
        ("byname.test", format!("http://localhost:{port}/x")),
        ("metadata.test", "http://169.254.169.254/latest".to_owned()),
        ("lan.test", "http://10.0.0.1/x".to_owned()),
        ("v6.test", format!("http://[::1]:{port}/x")),
    ] {
        net.web.set(
            name,
            "/.well-known/atproto-did",
            Reply {
                status: 302,
                location: Some(target.clone()),
                body: String::new(),
            },
        );
        let err = production_like
            .resolve_handle_http(&handle(name))
            .await
            .unwrap_err();
        // Refused before connecting, by the address check (not a failed connection).
        let refused = err.to_string();
        assert!(
            matches!(err, IdentityError::Http { .. })
                && (refused.contains("no public address") || refused.contains("non-public")),
            "{target}: {err}"
        );
    }
    assert_eq!(net.web.hits("localhost", "/x"), 0);
    // The same redirect by name is followed when private addresses are allowed.
    let dev = Resolver::new(ResolverConfig {
        allow_private_addresses: true,
        ..net.config()
    })
    .unwrap();
    let got = dev
        .resolve_handle_http(&handle("byname.test"))
        .await
        .unwrap();
    assert_eq!(got, Some(did(d)));
}

#[tokio::test]
async fn concurrent_misses_for_one_did_share_one_fetch() {
    let net = Net::start().await;
    let host = "crowd.test";
    let d = did("did:web:crowd.test");
    net.serve_did_web(host, &did_web_doc(d.as_str(), host, &k256()));
    let r = net.resolver();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (r, d) = (r.clone(), d.clone());
            tokio::spawn(async move { r.resolve_did(&d).await.map(|doc| doc.id.clone()) })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), d);
    }
    assert_eq!(net.web.hits(host, "/.well-known/did.json"), 1);
}
