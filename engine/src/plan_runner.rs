//! The API-plan runner: executes an analyzer [`ApiPlan`] as plain HTTP, with no browser.
//!
//! Each step's request is built from its templates: literal parts as recorded, `Input`
//! parts from [`RunConfig::inputs`] (or the plan's default), `Var` parts from values
//! extracted out of earlier responses (JSON pointer, header, `Set-Cookie`, HTML input or
//! meta, text between two markers), `BaseUrl` from the base URL, computed parts (timestamps,
//! UUIDs) made fresh. A cookie jar, seeded from [`RunConfig::cookies`], carries every cookie
//! the responses set; a step's own cookie fields override the jar's value of that name.
//!
//! Redirects are followed as recorded: a step whose recorded status was itself a redirect
//! is not followed (the plan holds the next hop as a step of its own); a step that was
//! recorded with a final status but now answers with a redirect follows it, at most
//! [`MAX_REDIRECTS`] hops.
//!
//! Failures that may pass on a second try (the connection failed, 429, 5xx) are retried
//! with exponential backoff ([`RetryPolicy`]); a 4xx never is. The whole run has one
//! deadline ([`RunConfig::timeout`]): when it passes, the request in flight is dropped (its
//! connection closed) and the run ends as [`RunStatus::Timeout`] with what it has.
//! A retry whose backoff would end past the deadline ends the run the same way, at once.
//!
//! The result ([`PlanRun`]) says, per step, the status, the time taken, every attempt with
//! the backoff waited before it, and which values it used, secrets masked; on failure, a
//! [`Failure`] whose [`FailureKind`] a later fallback (a browser modality) can act on.
//!
//! Inputs that the plan does not declare fill literal request fields of the same name (a
//! JSON body key, a form field, a query parameter): a recording made as `alice` runs as
//! `bob` with `username=bob`, although the analyzer saw `alice` as a constant of the page.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::{COOKIE, HeaderMap, HeaderName, HeaderValue, LOCATION, SET_COOKIE};
use serde::Serialize;
use serde_json::Value;
use spool_analyzer::ComputedKind;
use spool_analyzer::{ApiPlan, Encoding, Extraction, Part, PlanBody, PlanStep, PlanValue};
use tokio::time::Instant as TokioInstant;
use url::Url;

use crate::error::EngineError;
use crate::state::StateCookie;

/// Redirect hops followed for one step that was not recorded as a redirect.
pub const MAX_REDIRECTS: usize = 10;

/// The allowed range of [`RunConfig::timeout`].
pub const TIMEOUT_RANGE: std::ops::RangeInclusive<Duration> =
    Duration::from_secs(30)..=Duration::from_secs(1800);

/// The allowed range of [`RetryPolicy::max_retries`].
pub const MAX_RETRIES_RANGE: std::ops::RangeInclusive<u32> = 0..=10;

/// The allowed range of [`RetryPolicy::backoff`].
pub const BACKOFF_RANGE: std::ops::RangeInclusive<Duration> =
    Duration::from_millis(1000)..=Duration::from_millis(60_000);

/// How a run is carried out.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Values for the plan's inputs, and for literal fields of the same name.
    pub inputs: BTreeMap<String, String>,
    /// Where the steps recorded on the plan's base origin go. Without it: the `baseUrl`
    /// (or `base_url`) input, else the recorded origin.
    pub base_url: Option<String>,
    /// Cookies in the jar before the first request (the spec's `browserState.cookies`).
    pub cookies: Vec<StateCookie>,
    /// The deadline of the whole run, 30–1800 s.
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            inputs: BTreeMap::new(),
            base_url: None,
            cookies: Vec::new(),
            timeout: Duration::from_secs(300),
            retry: RetryPolicy::default(),
        }
    }
}

/// Retries of retryable failures (timeouts of the connection, connection errors, 429,
/// 5xx); the n-th retry waits `backoff * 2^(n-1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// 0–10.
    pub max_retries: u32,
    /// 1000–60000 ms.
    pub backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            backoff: Duration::from_millis(1000),
        }
    }
}

impl RunConfig {
    /// Checks every bound; the error names the field (`timeout`, `retryPolicy.maxRetries`,
    /// `retryPolicy.backoffMs`, `baseUrl`).
    pub fn validate(&self) -> Result<(), EngineError> {
        if !TIMEOUT_RANGE.contains(&self.timeout) {
            return Err(EngineError::invalid(
                "timeout",
                format!(
                    "must be 30 to 1800 seconds, got {} s",
                    self.timeout.as_secs_f64()
                ),
            ));
        }
        if !MAX_RETRIES_RANGE.contains(&self.retry.max_retries) {
            return Err(EngineError::invalid(
                "retryPolicy.maxRetries",
                format!("must be 0 to 10, got {}", self.retry.max_retries),
            ));
        }
        if !BACKOFF_RANGE.contains(&self.retry.backoff) {
            return Err(EngineError::invalid(
                "retryPolicy.backoffMs",
                format!(
                    "must be 1000 to 60000 ms, got {} ms",
                    self.retry.backoff.as_millis()
                ),
            ));
        }
        if let Some(base) = &self.base_url {
            parse_base(base).map_err(|rule| EngineError::invalid("baseUrl", rule))?;
        }
        Ok(())
    }
}

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    Success,
    Failed,
    Timeout,
}

/// The result of a run.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanRun {
    pub status: RunStatus,
    /// The id of the target step.
    pub target: Option<String>,
    /// The target step's response, when it ran.
    pub response: Option<StepResponse>,
    pub steps: Vec<StepResult>,
    /// Why the run did not succeed.
    pub failure: Option<Failure>,
    pub resources: Resources,
}

/// A response: its status and body (parsed when it is JSON, else text).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Value,
}

/// One step's outcome.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepResult {
    pub id: String,
    pub method: String,
    /// The URL of the last attempt (query values that were secrets masked).
    pub url: String,
    /// The final status, `None` when no response came.
    pub status: Option<u16>,
    pub ok: bool,
    pub duration_ms: f64,
    pub attempts: Vec<Attempt>,
    /// Values put into the request, secrets masked.
    pub values: Vec<ValueUse>,
}

/// One try of a step.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// The backoff waited before this attempt (0 for the first).
    pub backoff_ms: u64,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: f64,
}

/// A value a step used.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValueUse {
    pub name: String,
    /// `input`, `default` (the plan's default for an input), `field` (an undeclared input
    /// that filled a literal field), `extracted` (from an earlier step) or `computed`.
    pub source: String,
    /// The step it was extracted from, for `extracted`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_step: Option<String>,
    pub secret: bool,
    /// The value, or `***` and its length when secret.
    pub value: String,
}

/// Why a run failed, in a form a fallback can act on.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub kind: FailureKind,
    pub step: String,
    pub status: Option<u16>,
    pub message: String,
}

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// 401 or 403: the credentials or the session are not accepted (a browser login may be
    /// needed).
    Unauthorized,
    /// Any other status ≥ 400, or 429/5xx after the last retry.
    UnexpectedStatus,
    /// A value a later step needs was not in the response.
    ExtractionFailed,
    /// No response: the connection failed (after the last retry), or the request could not
    /// be built.
    Connection,
    /// More redirects than [`MAX_REDIRECTS`].
    TooManyRedirects,
    /// The run's deadline passed.
    Timeout,
}

/// What the run cost.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resources {
    /// HTTP requests sent, retries and redirect hops included.
    pub requests: u32,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub wall_ms: f64,
}

/// Runs `plan` over plain HTTP as `config` says.
///
/// Errors before any request is sent: a config out of bounds, a plan without steps, a
/// required input missing (each `InvalidParams` naming the field or input), or an HTTP
/// client that could not be built. Everything after the first request is reported in the
/// [`PlanRun`].
pub async fn run_plan(plan: &ApiPlan, config: &RunConfig) -> Result<PlanRun, EngineError> {
    config.validate()?;
    if plan.steps.is_empty() {
        return Err(EngineError::invalid(
            "plan",
            "has no steps: the recording holds no API call to run",
        ));
    }
    let inputs = resolve_inputs(plan, config)?;
    let base = base_url(plan, config)?;
    let jar = Arc::new(Jar::default());
    seed_cookies(&jar, &config.cookies, &base)?;
    // Redirects are followed by hand so every hop's cookies reach the jar and a recorded
    // redirect stays a step of its own.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| EngineError::invalid("http client", e.to_string()))?;
    let mut run = Runner {
        client,
        jar,
        base,
        inputs,
        vars: HashMap::new(),
        retry: config.retry,
        deadline: TokioInstant::now() + config.timeout,
        timeout: config.timeout,
        resources: Resources::default(),
        last_response: None,
    };
    let started = Instant::now();
    let mut steps = Vec::new();
    let mut failure = None;
    let mut target_response = None;
    for step in &plan.steps {
        let (result, response, step_failure) = run.step(step).await;
        steps.push(result);
        if let Some(f) = step_failure {
            failure = Some(f);
            break;
        }
        if plan.target.as_deref() == Some(step.id.as_str()) {
            target_response = response;
        }
    }
    run.resources.wall_ms = ms(started.elapsed());
    let status = match &failure {
        None => RunStatus::Success,
        Some(f) if f.kind == FailureKind::Timeout => RunStatus::Timeout,
        Some(_) => RunStatus::Failed,
    };
    // Without a named target, the last step's response is what the task was about.
    if plan.target.is_none() && failure.is_none() {
        target_response = run.last_response.take();
    }
    Ok(PlanRun {
        status,
        target: plan.target.clone(),
        response: target_response,
        steps,
        failure,
        resources: run.resources,
    })
}

// ---------------------------------------------------------------- inputs and base URL

/// An input's value and where it came from.
#[derive(Debug, Clone)]
struct InputValue {
    value: String,
    source: &'static str,
    secret: bool,
}

/// Every declared input's value, then the undeclared ones (they fill literal fields).
fn resolve_inputs(
    plan: &ApiPlan,
    config: &RunConfig,
) -> Result<HashMap<String, InputValue>, EngineError> {
    let mut out = HashMap::new();
    for input in &plan.inputs {
        let value = match (config.inputs.get(&input.name), &input.default) {
            (Some(v), _) => InputValue {
                value: v.clone(),
                source: "input",
                secret: input.secret,
            },
            (None, Some(d)) => InputValue {
                value: d.clone(),
                source: "default",
                secret: input.secret,
            },
            (None, None) => {
                return Err(EngineError::invalid(
                    &format!("inputs.{}", input.name),
                    format!(
                        "the plan needs the input `{}`{} and it was not given ({})",
                        input.name,
                        if input.secret { " (a secret)" } else { "" },
                        input.description
                    ),
                ));
            }
        };
        out.insert(input.name.clone(), value);
    }
    for (name, value) in &config.inputs {
        if is_base_url_input(name) {
            continue;
        }
        out.entry(name.clone()).or_insert_with(|| InputValue {
            value: value.clone(),
            source: "field",
            secret: looks_secret(name),
        });
    }
    Ok(out)
}

fn is_base_url_input(name: &str) -> bool {
    matches!(name, "baseUrl" | "base_url")
}

fn base_url(plan: &ApiPlan, config: &RunConfig) -> Result<String, EngineError> {
    let (field, raw) = if let Some(b) = &config.base_url {
        ("baseUrl", b.clone())
    } else if let Some(b) = config
        .inputs
        .get("baseUrl")
        .or_else(|| config.inputs.get("base_url"))
    {
        ("inputs.baseUrl", b.clone())
    } else if let Some(b) = &plan.base_url {
        ("plan.baseUrl", b.clone())
    } else {
        return Err(EngineError::invalid(
            "baseUrl",
            "the plan records no base URL; give one",
        ));
    };
    parse_base(&raw).map_err(|rule| EngineError::invalid(field, rule))
}

/// `scheme://host[:port]` without a trailing slash.
fn parse_base(raw: &str) -> Result<String, String> {
    let url = Url::parse(raw).map_err(|e| format!("`{raw}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("`{raw}` is not an http(s) URL"));
    }
    Ok(raw.trim_end_matches('/').to_string())
}

fn seed_cookies(jar: &Jar, cookies: &[StateCookie], base: &str) -> Result<(), EngineError> {
    for (i, c) in cookies.iter().enumerate() {
        let field = format!("cookies[{i}]");
        let url_text = match (&c.url, &c.domain) {
            (Some(u), _) => u.clone(),
            (None, Some(d)) => {
                let scheme = if base.starts_with("https:") {
                    "https"
                } else {
                    "http"
                };
                format!("{scheme}://{}/", d.trim_start_matches('.'))
            }
            (None, None) => format!("{base}/"),
        };
        let url = Url::parse(&url_text)
            .map_err(|e| EngineError::invalid(&format!("{field}.url"), e.to_string()))?;
        if c.name.is_empty() {
            return Err(EngineError::invalid(
                &format!("{field}.name"),
                "must not be empty",
            ));
        }
        let mut text = format!("{}={}", c.name, c.value);
        text.push_str(&format!("; Path={}", c.path.as_deref().unwrap_or("/")));
        if c.domain.is_some() {
            // A domain cookie also reaches the domain's subdomains.
            text.push_str(&format!("; Domain={}", url.host_str().unwrap_or_default()));
        }
        jar.add_cookie_str(&text, &url);
    }
    Ok(())
}

/// Names whose values are masked in reports when the plan says nothing about them.
fn looks_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "pass", "token", "secret", "session", "cookie", "csrf", "xsrf", "auth", "key", "sig",
        "otp", "bearer", "jwt", "sid",
    ]
    .iter()
    .any(|w| n.contains(w))
}

fn mask(value: &str, secret: bool) -> String {
    if secret {
        format!("*** ({} chars)", value.chars().count())
    } else {
        value.to_string()
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

// ---------------------------------------------------------------- the runner

/// A value extracted from a response.
#[derive(Debug, Clone)]
struct Extracted {
    value: String,
    step: String,
    secret: bool,
}

struct Runner {
    client: reqwest::Client,
    jar: Arc<Jar>,
    base: String,
    inputs: HashMap<String, InputValue>,
    vars: HashMap<String, Extracted>,
    retry: RetryPolicy,
    deadline: TokioInstant,
    timeout: Duration,
    resources: Resources,
    last_response: Option<StepResponse>,
}

/// A request ready to send (built again for each attempt: computed values are fresh).
struct Outgoing {
    method: reqwest::Method,
    url: Url,
    shown_url: String,
    headers: HeaderMap,
    cookies: Vec<(String, String)>,
    body: OutgoingBody,
}

enum OutgoingBody {
    None,
    Bytes(Vec<u8>),
    Multipart(Vec<(String, String)>),
}

/// A response as read.
struct Received {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// How one attempt ended.
enum AttemptEnd {
    Response(Received),
    Failed { error: String, retryable: bool },
    Deadline,
}

impl Runner {
    /// Runs one step (with retries and redirect hops): its result, its response, and the
    /// failure that ends the run, if any.
    async fn step(
        &mut self,
        step: &PlanStep,
    ) -> (StepResult, Option<StepResponse>, Option<Failure>) {
        let started = Instant::now();
        let mut result = StepResult {
            id: step.id.clone(),
            method: step.method.clone(),
            url: String::new(),
            status: None,
            ok: false,
            duration_ms: 0.0,
            attempts: Vec::new(),
            values: Vec::new(),
        };
        let fail = |kind, status, message: String| Failure {
            kind,
            step: step.id.clone(),
            status,
            message,
        };
        let mut backoff_waited = Duration::ZERO;
        let mut attempt_no = 0u32;
        let received = loop {
            result.values.clear();
            let outgoing = match self.build(step, &mut result.values) {
                Ok(o) => o,
                Err(message) => {
                    result.duration_ms = ms(started.elapsed());
                    return (
                        result,
                        None,
                        Some(fail(FailureKind::Connection, None, message)),
                    );
                }
            };
            result.url = outgoing.shown_url.clone();
            let attempt_started = Instant::now();
            let follow = !is_redirect(step.expect_status);
            let end = self.send_following(outgoing, follow).await;
            let mut attempt = Attempt {
                backoff_ms: backoff_waited.as_millis() as u64,
                status: None,
                error: None,
                duration_ms: ms(attempt_started.elapsed()),
            };
            let retryable = match &end {
                AttemptEnd::Response(r) => {
                    attempt.status = Some(r.status);
                    r.status == 429 || r.status >= 500
                }
                AttemptEnd::Failed { error, retryable } => {
                    attempt.error = Some(error.clone());
                    *retryable
                }
                AttemptEnd::Deadline => {
                    attempt.error = Some("the run's deadline passed".into());
                    false
                }
            };
            result.attempts.push(attempt);
            if matches!(end, AttemptEnd::Deadline) {
                result.duration_ms = ms(started.elapsed());
                let message = format!(
                    "the run timed out after {} s while step {} waited for its response",
                    self.timeout.as_secs(),
                    step.id
                );
                return (
                    result,
                    None,
                    Some(fail(FailureKind::Timeout, None, message)),
                );
            }
            if !retryable || attempt_no >= self.retry.max_retries {
                break end;
            }
            attempt_no += 1;
            backoff_waited = self.retry.backoff * 2u32.saturating_pow(attempt_no - 1);
            // A retry that could only start after the deadline cannot help: end now rather
            // than sleep into the timeout.
            if TokioInstant::now() + backoff_waited >= self.deadline {
                result.duration_ms = ms(started.elapsed());
                let message = format!(
                    "step {} would retry after the run's {} s deadline ({} ms backoff)",
                    step.id,
                    self.timeout.as_secs(),
                    backoff_waited.as_millis()
                );
                return (
                    result,
                    None,
                    Some(fail(FailureKind::Timeout, None, message)),
                );
            }
            tokio::time::sleep(backoff_waited).await;
        };
        result.duration_ms = ms(started.elapsed());
        let received = match received {
            AttemptEnd::Response(r) => r,
            AttemptEnd::Failed { error, .. } => {
                let kind = if error.contains("redirects") {
                    FailureKind::TooManyRedirects
                } else {
                    FailureKind::Connection
                };
                return (result, None, Some(fail(kind, None, error)));
            }
            AttemptEnd::Deadline => unreachable!("handled in the loop"),
        };
        result.status = Some(received.status);
        let response = step_response(&received);
        if received.status >= 400 {
            let kind = if matches!(received.status, 401 | 403) {
                FailureKind::Unauthorized
            } else {
                FailureKind::UnexpectedStatus
            };
            let message = format!(
                "step {} answered HTTP {} (recorded {}){}",
                step.id,
                received.status,
                step.expect_status,
                error_hint(&received.body)
            );
            return (
                result,
                Some(response),
                Some(fail(kind, Some(received.status), message)),
            );
        }
        for x in &step.extract {
            match extract(&received, x) {
                Some(value) => {
                    let secret = looks_secret(&x.var) || x.location.starts_with("set-cookie:");
                    self.vars.insert(
                        x.var.clone(),
                        Extracted {
                            value,
                            step: step.id.clone(),
                            secret,
                        },
                    );
                }
                None => {
                    let message = format!(
                        "step {}: no value for `{}` at {} in the response (HTTP {})",
                        step.id, x.var, x.location, received.status
                    );
                    return (
                        result,
                        Some(response),
                        Some(fail(
                            FailureKind::ExtractionFailed,
                            Some(received.status),
                            message,
                        )),
                    );
                }
            }
        }
        result.ok = true;
        self.last_response = Some(response.clone());
        (result, Some(response), None)
    }

    /// Sends a request, following redirects when `follow`; every hop's cookies go into the
    /// jar. Bounded by the run's deadline.
    async fn send_following(&mut self, first: Outgoing, follow: bool) -> AttemptEnd {
        let mut outgoing = first;
        for _ in 0..=MAX_REDIRECTS {
            let sent = tokio::time::timeout_at(self.deadline, self.send(&outgoing)).await;
            let received = match sent {
                Err(_) => return AttemptEnd::Deadline,
                Ok(Err(end)) => return end,
                Ok(Ok(r)) => r,
            };
            let location = received
                .headers
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| outgoing.url.join(l).ok());
            match location {
                Some(next) if follow && is_redirect(i64::from(received.status)) => {
                    // 303, and 301/302 after a POST, turn into a GET without a body, as
                    // browsers do.
                    let to_get = received.status == 303
                        || (matches!(received.status, 301 | 302)
                            && outgoing.method == reqwest::Method::POST);
                    if to_get {
                        outgoing.method = reqwest::Method::GET;
                        outgoing.body = OutgoingBody::None;
                        outgoing.headers.remove(reqwest::header::CONTENT_TYPE);
                    }
                    outgoing.shown_url = next.to_string();
                    outgoing.url = next;
                }
                _ => return AttemptEnd::Response(received),
            }
        }
        AttemptEnd::Failed {
            error: format!("more than {MAX_REDIRECTS} redirects"),
            retryable: false,
        }
    }

    async fn send(&mut self, o: &Outgoing) -> Result<Received, AttemptEnd> {
        let mut headers = o.headers.clone();
        if let Some(cookie) = self.cookie_header(&o.url, &o.cookies) {
            headers.insert(COOKIE, cookie);
        }
        let mut request = self
            .client
            .request(o.method.clone(), o.url.clone())
            .headers(headers);
        match &o.body {
            OutgoingBody::None => {}
            OutgoingBody::Bytes(b) => {
                self.resources.bytes_sent += b.len() as u64;
                request = request.body(b.clone());
            }
            OutgoingBody::Multipart(fields) => {
                let mut form = reqwest::multipart::Form::new();
                for (k, v) in fields {
                    self.resources.bytes_sent += (k.len() + v.len()) as u64;
                    form = form.text(k.clone(), v.clone());
                }
                request = request.multipart(form);
            }
        }
        self.resources.requests += 1;
        let response = request.send().await.map_err(|e| AttemptEnd::Failed {
            error: error_chain(&e),
            retryable: e.is_connect() || e.is_timeout() || e.is_request(),
        })?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut set_cookies = headers.get_all(SET_COOKIE).iter();
        self.jar.set_cookies(&mut set_cookies, &o.url);
        let body = response.bytes().await.map_err(|e| AttemptEnd::Failed {
            error: error_chain(&e),
            retryable: true,
        })?;
        self.resources.bytes_received += body.len() as u64;
        Ok(Received {
            status,
            headers,
            body: body.to_vec(),
        })
    }

    /// The jar's cookies for `url` with the step's own cookie fields put over them.
    fn cookie_header(&self, url: &Url, own: &[(String, String)]) -> Option<HeaderValue> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        if let Some(jar) = self.jar.cookies(url)
            && let Ok(text) = jar.to_str()
        {
            for pair in text.split(';') {
                if let Some((k, v)) = pair.trim().split_once('=') {
                    pairs.push((k.to_string(), v.to_string()));
                }
            }
        }
        for (k, v) in own {
            match pairs.iter_mut().find(|(name, _)| name == k) {
                Some(slot) => slot.1 = v.clone(),
                None => pairs.push((k.clone(), v.clone())),
            }
        }
        if pairs.is_empty() {
            return None;
        }
        let text = pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        HeaderValue::from_str(&text).ok()
    }

    /// Builds a step's request, noting every value used. An error says what could not be
    /// built.
    fn build(&self, step: &PlanStep, used: &mut Vec<ValueUse>) -> Result<Outgoing, String> {
        let origin = step.origin.clone().unwrap_or_else(|| self.base.clone());
        let path = self.render(&step.path, used)?;
        let mut url = Url::parse(&format!("{}{}", origin.trim_end_matches('/'), path))
            .map_err(|e| format!("step {}: bad URL {origin}{path}: {e}", step.id))?;
        let mut secret_query = Vec::new();
        if !step.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for q in &step.query {
                let value = match self.field_override(&q.name, &q.value, used) {
                    Some(v) => v,
                    None => self.render(&q.value, used)?,
                };
                if self.is_secret_value(&q.value) || looks_secret(&q.name) {
                    secret_query.push(q.name.clone());
                }
                pairs.append_pair(&q.name, &value);
            }
        }
        let shown_url = if secret_query.is_empty() {
            url.to_string()
        } else {
            let mut shown = url.clone();
            let masked: Vec<(String, String)> = url
                .query_pairs()
                .map(|(k, v)| {
                    let secret = secret_query.iter().any(|s| *s == k);
                    (
                        k.to_string(),
                        if secret { "***".into() } else { v.to_string() },
                    )
                })
                .collect();
            shown.query_pairs_mut().clear().extend_pairs(masked);
            shown.to_string()
        };
        let mut headers = HeaderMap::new();
        for h in &step.headers {
            let value = self.render(&h.value, used)?;
            let name = HeaderName::from_bytes(h.name.as_bytes())
                .map_err(|e| format!("step {}: header `{}`: {e}", step.id, h.name))?;
            let value = HeaderValue::from_str(&value)
                .map_err(|e| format!("step {}: header `{}`: {e}", step.id, h.name))?;
            headers.append(name, value);
        }
        let mut cookies = Vec::new();
        for c in &step.cookies {
            cookies.push((c.name.clone(), self.render(&c.value, used)?));
        }
        let body = match &step.body {
            None => OutgoingBody::None,
            Some(PlanBody::Json { template, set, .. }) => {
                let mut doc = template.clone();
                self.override_json_fields(&mut doc, used);
                for js in set {
                    let text = self.render(&js.value, used)?;
                    let value = typed(&text, &js.as_type);
                    match doc.pointer_mut(&js.pointer) {
                        Some(slot) => *slot = value,
                        None => {
                            return Err(format!(
                                "step {}: the body has no field at {}",
                                step.id, js.pointer
                            ));
                        }
                    }
                }
                OutgoingBody::Bytes(serde_json::to_vec(&doc).map_err(|e| e.to_string())?)
            }
            Some(PlanBody::Form { mime_type, fields }) => {
                let mut pairs = Vec::new();
                for f in fields {
                    let value = match self.field_override(&f.name, &f.value, used) {
                        Some(v) => v,
                        None => self.render(&f.value, used)?,
                    };
                    pairs.push((f.name.clone(), value));
                }
                if mime_type.contains("multipart") {
                    OutgoingBody::Multipart(pairs)
                } else {
                    let encoded = url::form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(pairs)
                        .finish();
                    OutgoingBody::Bytes(encoded.into_bytes())
                }
            }
            Some(PlanBody::Raw { text, .. }) => {
                OutgoingBody::Bytes(self.render(text, used)?.into_bytes())
            }
        };
        let method = reqwest::Method::from_bytes(step.method.as_bytes())
            .map_err(|e| format!("step {}: method `{}`: {e}", step.id, step.method))?;
        Ok(Outgoing {
            method,
            url,
            shown_url,
            headers,
            cookies,
            body,
        })
    }

    /// The value of an undeclared input named like this literal field, if any.
    fn field_override(
        &self,
        name: &str,
        value: &PlanValue,
        used: &mut Vec<ValueUse>,
    ) -> Option<String> {
        value.as_lit()?;
        let input = self.inputs.get(name).filter(|i| i.source == "field")?;
        note(used, name, input.source, None, input.secret, &input.value);
        Some(input.value.clone())
    }

    /// Puts undeclared inputs into literal string leaves of the same key.
    fn override_json_fields(&self, doc: &mut Value, used: &mut Vec<ValueUse>) {
        match doc {
            Value::Object(map) => {
                for (key, value) in map.iter_mut() {
                    match value {
                        Value::String(s) => {
                            if let Some(input) =
                                self.inputs.get(key).filter(|i| i.source == "field")
                            {
                                note(used, key, input.source, None, input.secret, &input.value);
                                *s = input.value.clone();
                            }
                        }
                        other => self.override_json_fields(other, used),
                    }
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.override_json_fields(item, used);
                }
            }
            _ => {}
        }
    }

    fn is_secret_value(&self, v: &PlanValue) -> bool {
        v.0.iter().any(|p| match p {
            Part::Input { name, .. } => self.inputs.get(name).is_some_and(|i| i.secret),
            Part::Var { name, .. } => self.vars.get(name).is_some_and(|x| x.secret),
            _ => false,
        })
    }

    /// The text of a value template.
    fn render(&self, v: &PlanValue, used: &mut Vec<ValueUse>) -> Result<String, String> {
        let mut out = String::new();
        for p in &v.0 {
            out.push_str(&self.render_part(p, used)?);
        }
        Ok(out)
    }

    fn render_part(&self, p: &Part, used: &mut Vec<ValueUse>) -> Result<String, String> {
        Ok(match p {
            Part::Lit(s) => s.clone(),
            Part::Var { name, encode } => {
                let x = self
                    .vars
                    .get(name)
                    .ok_or_else(|| format!("no earlier step extracted `{name}`"))?;
                note(used, name, "extracted", Some(&x.step), x.secret, &x.value);
                encode_as(&x.value, *encode)
            }
            Part::Input { name, encode } => {
                let i = self
                    .inputs
                    .get(name)
                    .ok_or_else(|| format!("the input `{name}` has no value"))?;
                note(used, name, i.source, None, i.secret, &i.value);
                encode_as(&i.value, *encode)
            }
            Part::Computed { kind } => {
                let value = computed(*kind);
                note(used, &format!("{kind:?}"), "computed", None, false, &value);
                value
            }
            Part::BaseUrl => self.base.clone(),
            Part::Base64(inner) => {
                let text = self.render(&PlanValue(inner.clone()), used)?;
                base64::engine::general_purpose::STANDARD.encode(text)
            }
        })
    }
}

/// Notes a used value once per step.
fn note(
    used: &mut Vec<ValueUse>,
    name: &str,
    source: &str,
    from_step: Option<&str>,
    secret: bool,
    value: &str,
) {
    if used.iter().any(|u| u.name == name && u.source == source) {
        return;
    }
    used.push(ValueUse {
        name: name.to_string(),
        source: source.to_string(),
        from_step: from_step.map(str::to_string),
        secret,
        value: mask(value, secret),
    });
}

fn computed(kind: ComputedKind) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    match kind {
        ComputedKind::TimestampMs => now.as_millis().to_string(),
        ComputedKind::TimestampS => now.as_secs().to_string(),
        ComputedKind::Uuid => uuid::Uuid::new_v4().to_string(),
        // An opaque page-computed value cannot be made without the page; the analyzer
        // sends such plans to a browser modality, so an empty value is all we can send.
        ComputedKind::Opaque => String::new(),
    }
}

fn encode_as(value: &str, encoding: Option<Encoding>) -> String {
    match encoding {
        None => value.to_string(),
        Some(Encoding::Url) => {
            let mut out = String::with_capacity(value.len());
            for b in value.bytes() {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                    out.push(b as char);
                } else {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
            out
        }
        Some(Encoding::Json) => {
            let quoted = serde_json::to_string(value).unwrap_or_default();
            quoted[1..quoted.len() - 1].to_string()
        }
    }
}

/// A JSON value of the recorded type (`integer`, `number`, `boolean`, else a string).
fn typed(text: &str, as_type: &str) -> Value {
    match as_type {
        "integer" | "number" => text
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| text.parse::<f64>().map(Value::from))
            .unwrap_or_else(|_| Value::String(text.to_string())),
        "boolean" => Value::Bool(text == "true"),
        _ => Value::String(text.to_string()),
    }
}

fn is_redirect(status: i64) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// ` — <the server's message>` for JSON error bodies, else nothing.
fn error_hint(body: &[u8]) -> String {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return String::new();
    };
    let message = v
        .pointer("/error/message")
        .or_else(|| v.pointer("/message"))
        .or_else(|| v.pointer("/error"))
        .and_then(Value::as_str);
    message.map(|m| format!(": {m}")).unwrap_or_default()
}

fn step_response(r: &Received) -> StepResponse {
    let content_type = r
        .headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = serde_json::from_slice::<Value>(&r.body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&r.body).into_owned()));
    StepResponse {
        status: r.status,
        content_type,
        body,
    }
}

// ---------------------------------------------------------------- extraction

/// The value at an extraction's location, narrowed by its markers.
fn extract(r: &Received, x: &Extraction) -> Option<String> {
    let loc = x.location.as_str();
    let text = || String::from_utf8_lossy(&r.body).into_owned();
    let located = if let Some(pointer) = loc.strip_prefix("json:") {
        let doc: Value = serde_json::from_slice(&r.body).ok()?;
        Some(match doc.pointer(pointer)? {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    } else if let Some(name) = loc.strip_prefix("header:") {
        r.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    } else if let Some(name) = loc.strip_prefix("set-cookie:") {
        r.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next()?.split_once('='))
            .find(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.trim().to_string())
    } else if let Some(name) = loc.strip_prefix("html:input:") {
        html_attribute(&text(), "input", name, "value")
    } else if let Some(name) = loc.strip_prefix("html:meta:") {
        html_attribute(&text(), "meta", name, "content")
    } else if loc == "html:script" || loc == "body" {
        Some(text())
    } else {
        // WebSocket frames and locations this version does not know.
        None
    }?;
    match (&x.before, &x.after) {
        (Some(before), Some(after)) => {
            let haystack = if loc == "html:script" || loc == "body" {
                text()
            } else {
                located
            };
            between(&haystack, before, after)
        }
        _ => Some(located),
    }
}

/// The text between `before` and `after` (to the end when `after` is empty).
fn between(text: &str, before: &str, after: &str) -> Option<String> {
    let pattern = format!(
        "(?s){}(.*?){}",
        regex::escape(before),
        if after.is_empty() {
            "$".to_string()
        } else {
            regex::escape(after)
        }
    );
    let re = regex::Regex::new(&pattern).ok()?;
    re.captures(text).map(|c| c[1].to_string())
}

/// The `attr` of the first `<tag>` whose `name` (or `property`, `http-equiv`) is `name`.
fn html_attribute(html: &str, tag: &str, name: &str, attr: &str) -> Option<String> {
    let re = regex::Regex::new(&format!(r"(?i)<{tag}\b([^>]*)>")).ok()?;
    for found in re.captures_iter(html) {
        let attrs = spool_model::html::attributes(&found[1]);
        let value_of = |a: &spool_model::html::Attribute<'_>| {
            spool_model::html::decode_entities(a.value).into_owned()
        };
        let named = attrs.iter().any(|a| {
            ["name", "property", "http-equiv"]
                .iter()
                .any(|n| a.name.eq_ignore_ascii_case(n))
                && value_of(a) == name
        });
        if named && let Some(a) = attrs.iter().find(|a| a.name.eq_ignore_ascii_case(attr)) {
            return Some(value_of(a));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encoding_matches_python_quote() {
        assert_eq!(encode_as("a/b c", Some(Encoding::Url)), "a%2Fb%20c");
        assert_eq!(
            encode_as("say \"hi\"", Some(Encoding::Json)),
            "say \\\"hi\\\""
        );
    }

    #[test]
    fn html_fields_and_markers() {
        let page = r#"<form><INPUT type="hidden" name="csrf" value="a&amp;b"></form>"#;
        assert_eq!(
            html_attribute(page, "input", "csrf", "value").as_deref(),
            Some("a&b")
        );
        assert_eq!(
            between("var t = 'abc'; go()", "var t = '", "'").as_deref(),
            Some("abc")
        );
        assert_eq!(between("token=xyz", "token=", "").as_deref(), Some("xyz"));
    }

    #[test]
    fn typed_values_keep_the_recorded_type() {
        assert_eq!(typed("40712", "integer"), Value::from(40712));
        assert_eq!(typed("1.5", "number"), Value::from(1.5));
        assert_eq!(typed("true", "boolean"), Value::Bool(true));
        assert_eq!(typed("x", "string"), Value::from("x"));
    }
}
