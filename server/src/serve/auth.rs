//! Who is calling: API keys (`X-API-Key`), static bearer tokens and JWTs (HS256 or RS256,
//! expiry checked) on every route but `/health`, and the Host/Origin allow-list that keeps
//! a browser page from reaching `/mcp` through DNS rebinding.
//!
//! Secrets are compared as SHA-256 digests in constant time (`subtle`), so neither their
//! content nor their length leaks through timing. A caller is known afterwards by a
//! [`ClientIdentity`] that names the credential (`key:1a2b3c4d`, `token:…`, `jwt:SUBJECT`)
//! but never holds the secret; rate limits, metrics and the audit log use it.

use super::config::ServeConfig;
use super::error::ApiError;
use super::state::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use spool_model::ErrorCode;
use std::net::SocketAddr;
use subtle::ConstantTimeEq;

/// The credential a request was let in with, without its secret. Handlers find it in the
/// request's extensions (MCP: in the HTTP parts rmcp hands to the tool call).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientIdentity(pub String);

impl ClientIdentity {
    /// A server without credentials (loopback only) serves one anonymous user.
    pub fn anonymous() -> ClientIdentity {
        ClientIdentity("anonymous".into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The configured credentials, ready to check requests against.
pub struct Authenticator {
    api_keys: Vec<Credential>,
    bearer_tokens: Vec<Credential>,
    jwt: Vec<(Algorithm, DecodingKey)>,
    jwt_issuer: Option<String>,
    jwt_audience: Option<String>,
}

/// A secret kept only as its digest, and the id that names it in logs.
struct Credential {
    id: String,
    digest: [u8; 32],
}

impl Credential {
    fn new(kind: &str, secret: &str) -> Credential {
        let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        // The id is a short digest prefix: stable across restarts, useless for guessing.
        let id = format!("{kind}:{}", hex_prefix(&Sha256::digest(digest)));
        Credential { id, digest }
    }
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

/// Finds the credential whose digest equals the given secret's, looking at every one so the
/// time taken does not say which (or whether one) matched.
fn find<'a>(credentials: &'a [Credential], given: &str) -> Option<&'a Credential> {
    let digest: [u8; 32] = Sha256::digest(given.as_bytes()).into();
    let mut found = None;
    for credential in credentials {
        if bool::from(credential.digest.ct_eq(&digest)) {
            found = Some(credential);
        }
    }
    found
}

/// The claims Spool reads from a JWT; `exp` is required and checked by `jsonwebtoken`.
#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
}

/// Why a configured credential setting cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    #[error("cannot read the JWT RS256 public key {path}: {reason}")]
    UnreadableKey { path: String, reason: String },
    #[error("invalid JWT RS256 public key {path}: {reason}")]
    InvalidKey { path: String, reason: String },
}

impl AuthConfigError {
    pub fn code(&self) -> ErrorCode {
        ErrorCode::InvalidParams
    }
}

impl Authenticator {
    pub fn new(config: &ServeConfig) -> Result<Authenticator, AuthConfigError> {
        let mut jwt = Vec::new();
        if let Some(secret) = &config.jwt_hs256_secret {
            jwt.push((
                Algorithm::HS256,
                DecodingKey::from_secret(secret.as_bytes()),
            ));
        }
        if let Some(path) = &config.jwt_rs256_public_key {
            let shown = path.display().to_string();
            let pem = std::fs::read(path).map_err(|e| AuthConfigError::UnreadableKey {
                path: shown.clone(),
                reason: e.to_string(),
            })?;
            let key = DecodingKey::from_rsa_pem(&pem).map_err(|e| AuthConfigError::InvalidKey {
                path: shown,
                reason: e.to_string(),
            })?;
            jwt.push((Algorithm::RS256, key));
        }
        Ok(Authenticator {
            api_keys: config
                .api_keys
                .iter()
                .map(|k| Credential::new("key", k))
                .collect(),
            bearer_tokens: config
                .api_tokens
                .iter()
                .map(|t| Credential::new("token", t))
                .collect(),
            jwt,
            jwt_issuer: config.jwt_issuer.clone(),
            jwt_audience: config.jwt_audience.clone(),
        })
    }

    /// Whether any credential is configured; without one every request is anonymous.
    pub fn is_enabled(&self) -> bool {
        !self.api_keys.is_empty() || !self.bearer_tokens.is_empty() || !self.jwt.is_empty()
    }

    /// The identity the request's credentials prove, or the 401 that says what is wrong.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<ClientIdentity, ApiError> {
        if !self.is_enabled() {
            return Ok(ClientIdentity::anonymous());
        }
        if let Some(key) = headers.get("x-api-key") {
            let key = key.to_str().unwrap_or_default();
            return find(&self.api_keys, key)
                .map(|c| ClientIdentity(c.id.clone()))
                .ok_or_else(|| unauthorized("the X-API-Key is not valid", "invalid_api_key"));
        }
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim);
        let Some(token) = bearer else {
            return Err(unauthorized(
                "this server needs credentials: an `X-API-Key` header or `Authorization: Bearer TOKEN`",
                "missing_credentials",
            ));
        };
        if let Some(c) = find(&self.bearer_tokens, token) {
            return Ok(ClientIdentity(c.id.clone()));
        }
        if self.jwt.is_empty() || token.split('.').count() != 3 {
            return Err(unauthorized(
                "the bearer token is not valid",
                "invalid_token",
            ));
        }
        self.verify_jwt(token)
    }

    fn verify_jwt(&self, token: &str) -> Result<ClientIdentity, ApiError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| unauthorized(format!("the JWT is malformed: {e}"), "invalid_token"))?;
        let Some((algorithm, key)) = self.jwt.iter().find(|(alg, _)| *alg == header.alg) else {
            return Err(unauthorized(
                format!(
                    "the JWT is signed with {:?}, which this server does not accept",
                    header.alg
                ),
                "invalid_token",
            ));
        };
        let mut validation = Validation::new(*algorithm);
        validation.set_required_spec_claims(&["exp"]);
        if let Some(issuer) = &self.jwt_issuer {
            validation.set_issuer(&[issuer]);
        }
        match &self.jwt_audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        let data = jsonwebtoken::decode::<Claims>(token, key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => unauthorized("the JWT has expired", "token_expired"),
                ErrorKind::InvalidSignature => unauthorized(
                    "the JWT's signature does not verify with the configured key",
                    "invalid_signature",
                ),
                other => unauthorized(format!("the JWT is not valid: {other:?}"), "invalid_token"),
            }
        })?;
        let subject = data.claims.sub.unwrap_or_else(|| "unknown".into());
        Ok(ClientIdentity(format!("jwt:{subject}")))
    }
}

/// A 401 in the server's error shape; `reason` is a stable word for clients and tests.
fn unauthorized(message: impl Into<String>, reason: &str) -> ApiError {
    ApiError::new(ErrorCode::Unauthorized, message).with_details(json!({ "reason": reason }))
}

/// Middleware: every route but `/health` is let in only with valid credentials (when any are
/// configured); the identity goes into the request's extensions for the layers and handlers
/// after this one.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    if request.uri().path() == "/health" {
        return next.run(request).await;
    }
    match state.auth.authenticate(request.headers()) {
        Ok(identity) => {
            request.extensions_mut().insert(identity);
            next.run(request).await
        }
        Err(error) => {
            let mut response = error.into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
    }
}

/// Middleware on `/mcp`: the `Host` must be one this server is known by, and a browser's
/// `Origin`, when sent, one of the allowed origins. A page on another site that rebinds its
/// DNS name to 127.0.0.1 sends its own name in both and is refused with 403.
pub async fn check_host_and_origin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| request.uri().authority().map(|a| a.to_string()));
    let allowed = HostPolicy::from_config(&state.config);
    if let Some(host) = &host
        && !allowed.host_allowed(host)
    {
        return forbidden(format!("the Host {host:?} is not allowed on /mcp"), "host")
            .into_response();
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        if !allowed.origin_allowed(origin) {
            return forbidden(
                format!("the Origin {origin:?} is not allowed on /mcp"),
                "origin",
            )
            .into_response();
        }
    }
    next.run(request).await
}

fn forbidden(message: String, header: &str) -> ApiError {
    ApiError::new(ErrorCode::Forbidden, message).with_details(json!({ "header": header }))
}

/// The names and origins `/mcp` answers to.
struct HostPolicy<'a> {
    /// Configured host names; loopback names are always allowed.
    hosts: &'a [String],
    origins: &'a [String],
    /// A server bound off loopback with no host list answers any Host (its credentials
    /// guard it); a loopback server only its loopback names.
    any_host: bool,
}

impl<'a> HostPolicy<'a> {
    fn from_config(config: &'a ServeConfig) -> HostPolicy<'a> {
        HostPolicy {
            hosts: &config.allowed_hosts,
            origins: &config.cors_origins,
            any_host: config.allowed_hosts.is_empty() && !config.addr.ip().is_loopback(),
        }
    }

    fn host_allowed(&self, authority: &str) -> bool {
        if self.any_host {
            return true;
        }
        let name = host_name(authority);
        is_loopback_name(&name) || self.hosts.iter().any(|h| h.eq_ignore_ascii_case(&name))
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        if self
            .origins
            .iter()
            .any(|o| o == "*" || o.eq_ignore_ascii_case(origin))
        {
            return true;
        }
        // A page served from this machine itself (a local dashboard) may call `/mcp`.
        let authority = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        authority.is_some_and(|a| is_loopback_name(&host_name(a)))
    }
}

/// `example.com:8080` → `example.com`; `[::1]:3000` → `::1`.
fn host_name(authority: &str) -> String {
    let authority = authority.trim();
    if let Some(rest) = authority.strip_prefix('[') {
        return rest
            .split(']')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
    }
    authority
        .rsplit_once(':')
        .map_or(authority, |(name, _)| name)
        .to_ascii_lowercase()
}

fn is_loopback_name(name: &str) -> bool {
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Why `spool serve` will not start: bound off loopback with no credentials configured.
pub fn refuse_unprotected(addr: SocketAddr) -> String {
    format!(
        "refusing to serve on {addr} without credentials: anyone who can reach it could drive \
         the browsers. Configure a key with --api-key KEY (SPOOL_API_KEYS=KEY1,KEY2, or \
         api_keys = [\"KEY\"] in the --config file), a bearer token with --api-token TOKEN \
         (SPOOL_API_TOKEN), or JWTs with --jwt-hs256-secret / --jwt-rs256-public-key; or bind \
         to 127.0.0.1"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_parsed_without_ports() {
        assert_eq!(host_name("example.com:8080"), "example.com");
        assert_eq!(host_name("[::1]:3000"), "::1");
        assert_eq!(host_name("LOCALHOST"), "localhost");
        assert!(is_loopback_name("127.0.0.1"));
        assert!(!is_loopback_name("evil.example"));
    }

    #[test]
    fn an_identity_names_the_key_but_never_holds_it() {
        let config = ServeConfig {
            api_keys: vec!["s3cret-key".into()],
            ..ServeConfig::default()
        };
        let auth = Authenticator::new(&config).unwrap_or_else(|e| panic!("{e}"));
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", HeaderValue::from_static("s3cret-key"));
        let identity = auth
            .authenticate(&headers)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(identity.as_str().starts_with("key:"));
        assert!(!identity.as_str().contains("s3cret"));
    }
}
