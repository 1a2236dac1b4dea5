//! Structured logs: one JSON object per line on standard error (`tracing`). A decision line
//! carries the outcome, the codes and the agent/principal DIDs; never a key, a signature, a
//! nonce or a credential.

use tracing::level_filters::LevelFilter;

use crate::error::GatewayError;

/// The level named by `name`.
pub(crate) fn level(name: &str) -> Result<LevelFilter, GatewayError> {
    match name {
        "error" => Ok(LevelFilter::ERROR),
        "warn" => Ok(LevelFilter::WARN),
        "info" => Ok(LevelFilter::INFO),
        "debug" => Ok(LevelFilter::DEBUG),
        "trace" => Ok(LevelFilter::TRACE),
        other => Err(GatewayError::Config(format!(
            "log_level `{other}` is not one of error, warn, info, debug, trace"
        ))),
    }
}

/// Sends the process's logs to standard error as JSON lines, from `name` up. A second call
/// (a reload) leaves the first subscriber in place.
pub fn init(name: &str) -> Result<(), GatewayError> {
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_writer(std::io::stderr)
        .with_max_level(level(name)?)
        .finish();
    let _ = tracing::subscriber::set_global_default(subscriber);
    Ok(())
}
