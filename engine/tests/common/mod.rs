//! Checks shared by the engine's integration tests.

use spool_model::har::Har;

/// Every HAR Spool writes passes the HAR 1.2 schema, and an independent reader (the `har`
/// crate) accepts it too.
#[allow(dead_code)]
pub fn assert_valid_har(har: &Har, what: &str) {
    let value = serde_json::to_value(har).unwrap();
    if let Err(errors) = spool_fixtures::har_schema::validate(&value) {
        panic!(
            "HAR of {what} fails HAR 1.2 validation:\n{}",
            errors.join("\n")
        );
    }
    let text = serde_json::to_string(har).unwrap();
    har::from_str(&text).unwrap_or_else(|e| panic!("the har crate rejects the HAR of {what}: {e}"));
}

use spool_engine::{
    BrowserPool, BrowserSource, Capture, CaptureConfig, CaptureSink, EngineError, LaunchConfig,
    NoSink, PoolConfig,
};

/// Captures in a browser of its own from `source` (a pool of one, as `spool capture` does),
/// closing it afterwards.
pub async fn capture_from(
    source: BrowserSource,
    config: &CaptureConfig,
    sink: &mut dyn CaptureSink,
) -> Result<Capture, EngineError> {
    let pool = BrowserPool::new(PoolConfig::single(source))?;
    let result = spool_engine::capture(&pool, config, sink, None).await;
    pool.shutdown().await;
    result
}

/// Captures in a freshly launched Chromium, handing the recording to `sink`.
#[allow(dead_code)]
pub async fn capture_with(
    config: &CaptureConfig,
    sink: &mut dyn CaptureSink,
) -> Result<Capture, EngineError> {
    capture_from(BrowserSource::Launch(LaunchConfig::default()), config, sink).await
}

/// Captures in a freshly launched Chromium.
#[allow(dead_code)]
pub async fn capture_alone(config: &CaptureConfig) -> Result<Capture, EngineError> {
    capture_with(config, &mut NoSink).await
}

/// Collects the raw CDP events a level-4 capture hands out.
#[derive(Default)]
#[allow(dead_code)]
pub struct RawEvents(pub Vec<u8>);

impl CaptureSink for RawEvents {
    fn raw_events(&mut self, jsonl: &[u8]) {
        self.0.extend_from_slice(jsonl);
    }
}
