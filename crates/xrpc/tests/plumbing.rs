//! XRPC plumbing driven through a real axum router (no sockets).

use aerie_xrpc::jwt::{self, Claims, TokenType};
use aerie_xrpc::{
    AccessAuth, AdminAuth, AdminPassword, AuthKeys, Json, Params, XrpcError, catch_panic_layer,
    fallback, procedure, query, unix_now,
};
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRef};
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

#[derive(Clone)]
struct State {
    keys: AuthKeys,
    admin: AdminPassword,
}

impl FromRef<State> for AuthKeys {
    fn from_ref(s: &State) -> AuthKeys {
        s.keys.clone()
    }
}

impl FromRef<State> for AdminPassword {
    fn from_ref(s: &State) -> AdminPassword {
        s.admin.clone()
    }
}

#[derive(serde::Deserialize)]
struct EchoParams {
    limit: u32,
    flag: Option<bool>,
}

#[derive(serde::Deserialize, serde::Serialize)]
struct EchoBody {
    text: String,
}

const SECRET: &[u8] = b"secret";
const AUD: &str = "did:web:localhost";

fn app() -> Router {
    let state = State {
        keys: AuthKeys::new(SECRET, AUD),
        admin: AdminPassword("hunter2".into()),
    };
    Router::new()
        .route(
            "/xrpc/test.params",
            query(|Params(p): Params<EchoParams>| async move {
                axum::Json(serde_json::json!({"limit": p.limit, "flag": p.flag}))
            }),
        )
        .route(
            "/xrpc/test.echo",
            procedure(|Json(b): Json<EchoBody>| async move { axum::Json(b) })
                .layer(DefaultBodyLimit::max(64)),
        )
        .route(
            "/xrpc/test.whoami",
            query(|a: AccessAuth| async move { axum::Json(serde_json::json!({"did": a.did})) }),
        )
        .route("/xrpc/test.admin", procedure(|_: AdminAuth| async { "ok" }))
        .route(
            "/xrpc/test.panic",
            query(|| async {
                if unix_now() > 0 {
                    panic!("secret detail");
                }
                "unreachable"
            }),
        )
        .route(
            "/xrpc/test.fails",
            query(|| async { Err::<String, _>(XrpcError::internal("db exploded")) }),
        )
        .fallback(fallback)
        .layer(catch_panic_layer())
        .with_state(state)
}

async fn send(req: Request<Body>) -> (StatusCode, serde_json::Value) {
    let resp = app().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, json)
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

fn get_auth(uri: &str, auth: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::AUTHORIZATION, auth)
        .body(Body::empty())
        .unwrap()
}

fn post_json(uri: &str, ct: &str, body: &str) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, ct)
        .body(Body::from(body.to_owned()))
        .unwrap()
}

fn check(got: (StatusCode, serde_json::Value), status: u16, error: &str) {
    assert_eq!(got.0.as_u16(), status, "{}", got.1);
    assert_eq!(got.1["error"], error, "{}", got.1);
}

#[tokio::test]
async fn wrong_http_method_is_invalid_request() {
    let got = send(post_json(
        "/xrpc/test.params?limit=1",
        "application/json",
        "{}",
    ))
    .await;
    check(got.clone(), 400, "InvalidRequest");
    assert_eq!(got.1["message"], "Incorrect HTTP method");
    check(send(get("/xrpc/test.echo")).await, 400, "InvalidRequest");
}

#[tokio::test]
async fn unknown_xrpc_method_is_501() {
    check(
        send(get("/xrpc/com.example.nothing")).await,
        501,
        "MethodNotImplemented",
    );
    check(send(get("/elsewhere")).await, 404, "NotFound");
}

#[tokio::test]
async fn typed_params_parse_and_bad_params_are_invalid_request() {
    let (s, body) = send(get("/xrpc/test.params?limit=5&flag=true&extra=x")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, serde_json::json!({"limit": 5, "flag": true}));
    check(
        send(get("/xrpc/test.params?limit=abc")).await,
        400,
        "InvalidRequest",
    );
    check(send(get("/xrpc/test.params")).await, 400, "InvalidRequest");
}

#[tokio::test]
async fn json_body_checks_content_type_syntax_and_shape() {
    let (s, body) = send(post_json(
        "/xrpc/test.echo",
        "application/json",
        r#"{"text":"hi"}"#,
    ))
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["text"], "hi");
    let charset = "application/json; charset=utf-8";
    assert_eq!(
        send(post_json("/xrpc/test.echo", charset, r#"{"text":"x"}"#))
            .await
            .0,
        200
    );
    check(
        send(post_json(
            "/xrpc/test.echo",
            "text/plain",
            r#"{"text":"hi"}"#,
        ))
        .await,
        400,
        "InvalidRequest",
    );
    check(
        send(post_json("/xrpc/test.echo", "application/json", "{nope")).await,
        400,
        "InvalidRequest",
    );
    check(
        send(post_json(
            "/xrpc/test.echo",
            "application/json",
            r#"{"text":1}"#,
        ))
        .await,
        400,
        "InvalidRequest",
    );
}

#[tokio::test]
async fn body_over_the_limit_is_payload_too_large() {
    let big = format!(r#"{{"text":"{}"}}"#, "x".repeat(100));
    check(
        send(post_json("/xrpc/test.echo", "application/json", &big)).await,
        413,
        "PayloadTooLarge",
    );
}

#[tokio::test]
async fn panic_is_a_500_without_details() {
    let got = send(get("/xrpc/test.panic")).await;
    check(got.clone(), 500, "InternalServerError");
    assert!(!got.1.to_string().contains("secret detail"));
    let got = send(get("/xrpc/test.fails")).await;
    check(got.clone(), 500, "InternalServerError");
    assert!(!got.1.to_string().contains("exploded"));
}

fn token(typ: TokenType, scope: &str, exp: i64) -> String {
    jwt::sign(
        typ,
        &Claims {
            scope: scope.into(),
            sub: "did:plc:alice".into(),
            aud: AUD.into(),
            iat: unix_now(),
            exp,
            jti: Some("j".into()),
        },
        SECRET,
    )
}

#[tokio::test]
async fn access_token_rules() {
    let later = unix_now() + 60;
    let ok = token(TokenType::Access, jwt::SCOPE_ACCESS, later);
    let (s, body) = send(get_auth("/xrpc/test.whoami", &format!("Bearer {ok}"))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["did"], "did:plc:alice");

    check(send(get("/xrpc/test.whoami")).await, 401, "AuthMissing");
    check(
        send(get_auth("/xrpc/test.whoami", "Bearer garbage")).await,
        400,
        "InvalidToken",
    );
    let expired = token(TokenType::Access, jwt::SCOPE_ACCESS, unix_now() - 1);
    let got = send(get_auth("/xrpc/test.whoami", &format!("Bearer {expired}"))).await;
    check(got.clone(), 400, "ExpiredToken");
    assert_eq!(got.1["message"], "Token has expired");
    let refresh = token(TokenType::Refresh, jwt::SCOPE_REFRESH, later);
    check(
        send(get_auth("/xrpc/test.whoami", &format!("Bearer {refresh}"))).await,
        400,
        "InvalidToken",
    );
    let wrong_scope = token(TokenType::Access, jwt::SCOPE_REFRESH, later);
    check(
        send(get_auth(
            "/xrpc/test.whoami",
            &format!("Bearer {wrong_scope}"),
        ))
        .await,
        400,
        "InvalidToken",
    );
}

#[tokio::test]
async fn admin_basic_auth_rules() {
    let basic = |cred: &str| format!("Basic {}", data_encoding::BASE64.encode(cred.as_bytes()));
    let post = |auth: Option<String>| {
        let mut r = Request::post("/xrpc/test.admin");
        if let Some(a) = auth {
            r = r.header(header::AUTHORIZATION, a);
        }
        r.body(Body::empty()).unwrap()
    };
    assert_eq!(
        send(post(Some(basic("admin:hunter2")))).await.0,
        StatusCode::OK
    );
    check(
        send(post(Some(basic("admin:wrong")))).await,
        401,
        "AuthenticationRequired",
    );
    check(
        send(post(Some(basic("root:hunter2")))).await,
        401,
        "AuthenticationRequired",
    );
    check(send(post(None)).await, 401, "AuthMissing");
}
