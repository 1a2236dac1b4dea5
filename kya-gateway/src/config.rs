//! The gateway's TOML configuration. Every option is documented in the README's
//! "`kya serve`" section; unknown keys are refused so that a misspelt option never silently
//! falls back to a default. Relative paths are read from the configuration file's directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use kya_core::grant::{Action, Money};
use serde::Deserialize;

use crate::error::GatewayError;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the gateway listens (`127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// What the gateway does with a request.
    pub mode: Mode,
    /// Proxy mode: the service requests are forwarded to (`http://127.0.0.1:9000`).
    #[serde(default)]
    pub upstream: Option<String>,
    /// The kya-verify policy file (JSON).
    pub policy: PathBuf,
    /// The authorities (`host[:port]`) agents sign requests for; none: the host of the
    /// policy's `did:web` audience.
    #[serde(default)]
    pub authorities: Vec<String>,
    /// The scheme of the resource URLs grants are judged on (default `https`).
    #[serde(default = "default_scheme")]
    pub scheme: String,
    /// Whether a path no route maps is judged on the action the agent declares
    /// (`KYA-Action`) instead of being refused (default false: fail closed).
    #[serde(default)]
    pub allow_unmapped: bool,
    /// The routes: method and path prefix → action (and price).
    #[serde(default, rename = "route")]
    pub routes: Vec<RouteConfig>,
    /// A directory of status list credentials (W3C Bitstring Status List).
    #[serde(default)]
    pub status_lists: Option<PathBuf>,
    /// Auth mode settings.
    #[serde(default)]
    pub auth: AuthConfig,
    /// The live registry view.
    #[serde(default)]
    pub registry: Option<RegistryConfig>,
    /// The nonce store and the ledger.
    #[serde(default)]
    pub stores: StoresConfig,
    /// Bounds on connections and bodies.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Signed receipts for every decision, in a tamper-evident log (none when absent).
    #[serde(default)]
    pub receipts: Option<ReceiptsConfig>,
    /// x402 payments: the token, the merchant's address and the facilitator that settles
    /// (needed by any route with `[route.x402]`).
    #[serde(default)]
    pub x402: Option<X402Config>,
    /// The least level logged (`error`, `warn`, `info`, `debug`; default `info`).
    #[serde(default = "default_log_level")]
    pub log_level: String,
}

/// Proxy or auth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Mode {
    /// Verify, then forward allowed requests to the upstream.
    Proxy,
    /// Answer another proxy's sub-request (nginx `auth_request`, Envoy `ext_authz`, Traefik
    /// `forwardAuth`) with 2xx and identity headers, or a refusal.
    Auth,
}

/// One route.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// The method (any when absent).
    #[serde(default)]
    pub method: Option<String>,
    /// The path prefix, matched by whole segments.
    pub path: String,
    /// The action the route performs (`payments/send`).
    pub action: String,
    /// The price of one request (`"2.50 USD"`): the amount decided on and charged.
    #[serde(default)]
    pub price: Option<String>,
    /// An x402 price: unpaid requests get 402, paid ones are settled before they go on.
    #[serde(default)]
    pub x402: Option<RouteX402>,
}

/// A route's x402 price.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteX402 {
    /// The price in whole tokens of `[x402]`'s token (`"12.50"`).
    pub price: String,
    /// Another receiving address than `[x402]`'s `pay_to`.
    #[serde(default)]
    pub pay_to: Option<String>,
    /// Another payment window than `[x402]`'s `max_timeout_seconds`.
    #[serde(default)]
    pub max_timeout_seconds: Option<u64>,
}

/// x402 payments (`[x402]`): the `exact` scheme on one EVM chain, in one EIP-3009 token,
/// settled by the gateway itself as a local facilitator.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct X402Config {
    /// The node settlements are sent to (`http://127.0.0.1:8545`).
    pub rpc: String,
    /// The chain id (the x402 network is `eip155:<chain_id>`); the node must be on it.
    pub chain_id: u64,
    /// The EIP-3009 token's address.
    pub token: String,
    /// The token's decimals (default 6).
    #[serde(default = "default_decimals")]
    pub decimals: u8,
    /// The token's EIP-712 domain name (default `KYA Test USD`, the demo token; `USD Coin`
    /// for USDC).
    #[serde(default = "default_token_name")]
    pub token_name: String,
    /// The token's EIP-712 domain version (default `1`; `2` for USDC).
    #[serde(default = "default_token_version")]
    pub token_version: String,
    /// The merchant's receiving address.
    pub pay_to: String,
    /// How long a payment authorization may stay valid (default 120 s).
    #[serde(default = "default_x402_timeout")]
    pub max_timeout_seconds: u64,
    /// How long a settlement may wait for the node, 1 to 600 (default 60 s). Past it the
    /// request is answered 504 `x402_settlement_unconfirmed` once the transaction could
    /// have been sent (it may still land), 402 before.
    #[serde(default = "default_settle_timeout")]
    pub settle_timeout_seconds: u64,
    /// A file holding the facilitator's Ethereum key (it sends the settlements and pays
    /// their gas), as `kya registry`'s `--eth-key-file`.
    #[serde(default)]
    pub eth_key_file: Option<PathBuf>,
    /// Else the environment variable holding it (default `KYA_ETH_KEY`).
    #[serde(default = "default_eth_key_env")]
    pub eth_key_env: String,
}

impl RouteConfig {
    /// The action, parsed.
    pub fn action(&self) -> Result<Action, GatewayError> {
        Action::parse(&self.action)
            .map_err(|e| GatewayError::Config(format!("route {}: action: {e}", self.path)))
    }

    /// The price, parsed.
    pub fn price(&self) -> Result<Option<Money>, GatewayError> {
        self.price
            .as_deref()
            .map(kya_verify::http::parse_amount_header)
            .transpose()
            .map_err(|e| GatewayError::Config(format!("route {}: price: {e}", self.path)))
    }
}

/// Auth mode settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// The proxy that sends the sub-requests, which says where the original request is
    /// read from (required in auth mode): only that proxy's headers are read, so a header
    /// of another proxy's shape that a client added and the proxy passed on is never judged.
    #[serde(default)]
    pub proxy: Option<AuthProxy>,
    /// A prefix Envoy puts in front of the original path (its `path_prefix`), removed
    /// before the path is judged.
    #[serde(default)]
    pub path_prefix: String,
}

/// The proxy in front of an auth-mode gateway, and so the shape of its sub-requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum AuthProxy {
    /// nginx `auth_request`: the original in `X-Original-Method`, `-URI` and `-Host`, which
    /// the location sets (`docs/nginx/kya-auth-location.conf`).
    Nginx,
    /// Envoy `ext_authz` (HTTP service): the original method, `path_prefix` + the original
    /// path, and the original `Host`, as the sub-request's own.
    Envoy,
    /// Traefik `forwardAuth`: the original in `X-Forwarded-Method`, `-Uri` and `-Host`,
    /// which Traefik sets.
    Traefik,
}

impl AuthProxy {
    /// The headers that carry the original method, target and host, when the shape puts
    /// the original in headers.
    pub(crate) fn original_headers(self) -> Option<[&'static str; 3]> {
        match self {
            Self::Nginx => Some(["x-original-method", "x-original-uri", "x-original-host"]),
            Self::Traefik => Some(["x-forwarded-method", "x-forwarded-uri", "x-forwarded-host"]),
            Self::Envoy => None,
        }
    }
}

/// The live registry view.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// The deployment file (`registry.json`, as `kya registry deploy` writes it).
    pub deployment: PathBuf,
    /// RPC endpoints; a quorum of them must agree on everything the sync reads.
    pub rpc: Vec<String>,
    /// How many endpoints must agree (default: a majority).
    #[serde(default)]
    pub quorum: Option<usize>,
    /// Which block to follow: `finalized` (default), `safe` or `latest`.
    #[serde(default)]
    pub follow: FollowConfig,
    /// With `follow = "latest"`: stay this many blocks behind the head.
    #[serde(default)]
    pub confirmations: u64,
    /// Milliseconds between syncs (default 12 000).
    #[serde(default = "default_poll_ms")]
    pub poll_interval_ms: u64,
    /// The snapshot file: resumed at start, replaced atomically after each sync.
    pub snapshot: PathBuf,
    /// The oldest view the gateway answers from, in seconds since its last good sync
    /// (default 300).
    #[serde(default = "default_max_age")]
    pub max_age_secs: u64,
    /// What an older view does: `refuse` (503, default) or `degrade` (keep answering from
    /// the last view, reported in logs, metrics and `/readyz`).
    #[serde(default)]
    pub when_stale: WhenStale,
    /// Seconds one RPC request may take (default 10).
    #[serde(default = "default_rpc_timeout")]
    pub request_timeout_secs: u64,
}

/// Which block the registry sync follows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum FollowConfig {
    /// The finalized block.
    #[default]
    Finalized,
    /// The safe block.
    Safe,
    /// The head minus `confirmations`.
    Latest,
}

/// What a stale registry view does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum WhenStale {
    /// Refuse every request (503 with `Retry-After`, code `registry_stale`).
    #[default]
    Refuse,
    /// Keep answering from the last view.
    Degrade,
}

/// The nonce store and ledger.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoresConfig {
    /// A shared Redis (`redis://host:port`, or `redis+cluster://h1:p1,h2:p2,…`): every
    /// gateway instance on it refuses the others' replays and spends the same budgets. An
    /// unreachable Redis answers 503, never an allow.
    #[serde(default)]
    pub redis_url: Option<String>,
    /// The key namespace on that Redis (default: the first authority), so that several
    /// merchants can share one server.
    #[serde(default)]
    pub redis_namespace: Option<String>,
    /// Most budget/rate counters the in-memory ledger keeps (default kya-verify's); with
    /// `redis_url`, most live counters per root principal (default 100 000; the Redis
    /// server's `maxmemory` bounds the total).
    #[serde(default)]
    pub ledger_capacity: Option<usize>,
}

/// Receipts: each decision signed by the merchant's receipt key and appended to its log
/// before the answer goes out.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptsConfig {
    /// The receipt log's directory (created when absent).
    pub log_dir: PathBuf,
    /// The merchant's receipt key: a Multikey file as `kya key generate` writes it.
    pub key_file: PathBuf,
    /// The log's name, first line of its checkpoints (`shop.example/kya/receipts`).
    pub origin: String,
    /// Seconds between anchors of the log's checkpoint on chain (0 or absent: none). Needs
    /// `[registry]` (its deployment file and first `rpc` url) and an Ethereum key.
    #[serde(default)]
    pub anchor_every_seconds: u64,
    /// A file holding the anchoring Ethereum key (0x + 64 hex digits), as `kya registry`'s
    /// `--eth-key-file`.
    #[serde(default)]
    pub eth_key_file: Option<PathBuf>,
    /// Else the environment variable holding it, as `kya registry`'s `--eth-key-env`
    /// (default `KYA_ETH_KEY`).
    #[serde(default = "default_eth_key_env")]
    pub eth_key_env: String,
    /// Whether a decision that cannot be logged is answered 503 (default true) rather than
    /// answered without a receipt.
    #[serde(default = "default_true")]
    pub required: bool,
}

/// Bounds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// The largest request body read (default 1 MiB); larger: 413.
    #[serde(default = "default_body")]
    pub max_body_bytes: usize,
    /// Connections served at once (default 1024); more wait in the listen backlog.
    #[serde(default = "default_connections")]
    pub max_connections: usize,
    /// Seconds a client may take to send its request head (default 10).
    #[serde(default = "default_header_timeout")]
    pub header_timeout_secs: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: default_body(),
            max_connections: default_connections(),
            header_timeout_secs: default_header_timeout(),
        }
    }
}

fn default_scheme() -> String {
    "https".to_owned()
}
fn default_eth_key_env() -> String {
    "KYA_ETH_KEY".to_owned()
}
fn default_decimals() -> u8 {
    6
}
fn default_token_name() -> String {
    "KYA Test USD".to_owned()
}
fn default_token_version() -> String {
    "1".to_owned()
}
fn default_x402_timeout() -> u64 {
    120
}
fn default_settle_timeout() -> u64 {
    60
}
fn default_true() -> bool {
    true
}
fn default_log_level() -> String {
    "info".to_owned()
}
fn default_poll_ms() -> u64 {
    12_000
}
fn default_max_age() -> u64 {
    300
}
fn default_rpc_timeout() -> u64 {
    10
}
fn default_body() -> usize {
    1024 * 1024
}
fn default_connections() -> usize {
    1024
}
fn default_header_timeout() -> u64 {
    10
}

impl Config {
    /// Reads and checks the file at `path`; relative paths in it are made relative to its
    /// directory.
    pub fn read(path: &Path) -> Result<Self, GatewayError> {
        let text = std::fs::read_to_string(path).map_err(|source| GatewayError::Io {
            context: format!("reading {}", path.display()),
            source,
        })?;
        let mut config = Self::parse(&text).map_err(|e| match e {
            GatewayError::Config(m) => GatewayError::Config(format!("{}: {m}", path.display())),
            other => other,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.resolve(base);
        Ok(config)
    }

    /// Parses and checks TOML text (paths left as written).
    ///
    /// ```
    /// let config = kya_gateway::Config::parse(r#"
    ///     listen = "127.0.0.1:8080"
    ///     mode = "proxy"
    ///     upstream = "http://127.0.0.1:9000"
    ///     policy = "policy.json"
    ///     authorities = ["shop.example"]
    ///
    ///     [[route]]
    ///     method = "POST"
    ///     path = "/pay"
    ///     action = "payments/send"
    /// "#).unwrap();
    /// assert_eq!(config.routes.len(), 1);
    /// assert!(kya_gateway::Config::parse("listen = 1").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, GatewayError> {
        let config: Self = toml::from_str(text).map_err(|e| GatewayError::Config(e.to_string()))?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), GatewayError> {
        let bad = |m: String| Err(GatewayError::Config(m));
        match (self.mode, &self.upstream) {
            (Mode::Proxy, None) => return bad("proxy mode needs `upstream`".into()),
            (Mode::Proxy, Some(u)) if crate::proxy::upstream_base(u).is_none() => {
                return bad(format!(
                    "upstream `{u}` is not an http:// url without a path"
                ));
            }
            (Mode::Auth, Some(_)) => return bad("auth mode takes no `upstream`".into()),
            _ => {}
        }
        match (self.mode, self.auth.proxy) {
            (Mode::Auth, None) => {
                return bad("auth mode needs [auth] proxy = \"nginx\", \"envoy\" or \"traefik\": the proxy whose headers carry the original request".into());
            }
            (Mode::Proxy, Some(_)) => return bad("[auth] proxy goes with auth mode".into()),
            (_, Some(p)) if p != AuthProxy::Envoy && !self.auth.path_prefix.is_empty() => {
                return bad("[auth] path_prefix is Envoy's: nginx and Traefik send the original path in a header".into());
            }
            _ => {}
        }
        if let Some(r) = &self.registry {
            if r.rpc.is_empty() {
                return bad("[registry] needs at least one `rpc` url".into());
            }
            if r.confirmations > 0 && r.follow != FollowConfig::Latest {
                return bad("`confirmations` goes with follow = \"latest\"".into());
            }
        }
        if let Some(r) = &self.receipts {
            if r.origin.is_empty() || r.origin.chars().any(|c| c.is_whitespace() || c == '+') {
                return bad(format!(
                    "[receipts] origin `{}` must be non-empty, without spaces or `+`",
                    r.origin
                ));
            }
            if r.anchor_every_seconds > 0 && self.registry.is_none() {
                return bad("[receipts] anchor_every_seconds needs a [registry] section".into());
            }
        }
        if self.limits.max_connections == 0 || self.limits.max_body_bytes == 0 {
            return bad("limits must be above zero".into());
        }
        if let Some(x) = &self.x402
            && !(1..=600).contains(&x.settle_timeout_seconds)
        {
            return bad(format!(
                "[x402] settle_timeout_seconds is {}, not within 1 to 600",
                x.settle_timeout_seconds
            ));
        }
        for route in &self.routes {
            route.action()?;
            route.price()?;
            if route.x402.is_some() {
                if self.x402.is_none() {
                    return bad(format!(
                        "route {}: [route.x402] needs an [x402] section",
                        route.path
                    ));
                }
                if route.price.is_some() {
                    return bad(format!(
                        "route {}: `price` and [route.x402] exclude each other: the x402 price is charged",
                        route.path
                    ));
                }
                if self.mode != Mode::Proxy {
                    return bad(format!(
                        "route {}: x402 payments need proxy mode (the gateway settles before forwarding)",
                        route.path
                    ));
                }
            }
            if !route.path.starts_with('/') {
                return bad(format!("route path `{}` must start with /", route.path));
            }
        }
        crate::log::level(&self.log_level)?;
        Ok(())
    }

    fn resolve(&mut self, base: &Path) {
        let at = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        at(&mut self.policy);
        if let Some(d) = self.status_lists.as_mut() {
            at(d);
        }
        if let Some(r) = self.registry.as_mut() {
            at(&mut r.deployment);
            at(&mut r.snapshot);
        }
        if let Some(r) = self.receipts.as_mut() {
            at(&mut r.log_dir);
            at(&mut r.key_file);
            if let Some(k) = r.eth_key_file.as_mut() {
                at(k);
            }
        }
        if let Some(k) = self.x402.as_mut().and_then(|x| x.eth_key_file.as_mut()) {
            at(k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "listen = \"127.0.0.1:0\"\nmode = \"auth\"\npolicy = \"p.json\"\n[auth]\nproxy = \"nginx\"\n";

    #[test]
    fn receipts_default_to_required_and_anchoring_needs_a_registry() {
        let c = Config::parse(&format!(
            "{BASE}[receipts]\nlog_dir = \"r\"\nkey_file = \"k\"\norigin = \"shop.example/kya/receipts\"\n"
        ))
        .unwrap_or_else(|e| unreachable!("{e}"));
        let r = c.receipts.unwrap_or_else(|| unreachable!());
        assert!(r.required);
        assert_eq!(r.anchor_every_seconds, 0);
        assert_eq!(r.eth_key_env, "KYA_ETH_KEY");
        let anchored = format!(
            "{BASE}[receipts]\nlog_dir = \"r\"\nkey_file = \"k\"\norigin = \"o\"\nanchor_every_seconds = 60\n"
        );
        assert!(
            matches!(Config::parse(&anchored), Err(GatewayError::Config(m)) if m.contains("[registry]"))
        );
        let spaced =
            format!("{BASE}[receipts]\nlog_dir = \"r\"\nkey_file = \"k\"\norigin = \"a b\"\n");
        assert!(Config::parse(&spaced).is_err());
        let unknown = format!(
            "{BASE}[receipts]\nlog_dir = \"r\"\nkey_file = \"k\"\norigin = \"o\"\nkey = \"x\"\n"
        );
        assert!(Config::parse(&unknown).is_err());
    }

    #[test]
    fn auth_mode_names_its_proxy() {
        let bare = "listen = \"127.0.0.1:0\"\nmode = \"auth\"\npolicy = \"p.json\"\n";
        let refused = |text: String, needle: &str| {
            assert!(
                matches!(Config::parse(&text), Err(GatewayError::Config(m)) if m.contains(needle)),
                "{needle}"
            );
        };
        refused(bare.to_owned(), "needs [auth] proxy");
        refused(
            format!("{bare}[auth]\nproxy = \"haproxy\"\n"),
            "unknown variant",
        );
        refused(
            format!("{bare}[auth]\nproxy = \"traefik\"\npath_prefix = \"/x\"\n"),
            "Envoy's",
        );
        refused(
            format!("{PROXY}[auth]\nproxy = \"nginx\"\n"),
            "goes with auth mode",
        );
        for (name, proxy) in [
            ("nginx", AuthProxy::Nginx),
            ("envoy", AuthProxy::Envoy),
            ("traefik", AuthProxy::Traefik),
        ] {
            let c = Config::parse(&format!("{bare}[auth]\nproxy = \"{name}\"\n"))
                .unwrap_or_else(|e| unreachable!("{e}"));
            assert_eq!(c.auth.proxy, Some(proxy));
        }
    }

    const PROXY: &str = "listen = \"127.0.0.1:0\"\nmode = \"proxy\"\nupstream = \"http://127.0.0.1:9\"\npolicy = \"p.json\"\n";
    const X402: &str = "[x402]\nrpc = \"http://127.0.0.1:8545\"\nchain_id = 31337\ntoken = \"0x5FbDB2315678afecb367f032d93F642f64180aa3\"\npay_to = \"0x90F79bf6EB2c4f870365E785982E1f101E93b906\"\n";

    fn paid_route(extra: &str) -> String {
        format!(
            "[[route]]\npath = \"/checkout\"\naction = \"payments/send\"\n{extra}[route.x402]\nprice = \"12.50\"\n"
        )
    }

    #[test]
    fn x402_routes_need_the_section_proxy_mode_and_no_other_price() {
        let ok = Config::parse(&format!("{PROXY}{}{X402}", paid_route("")))
            .unwrap_or_else(|e| unreachable!("{e}"));
        let x = ok.x402.as_ref().unwrap_or_else(|| unreachable!());
        assert_eq!(
            (x.decimals, x.max_timeout_seconds, x.settle_timeout_seconds),
            (6, 120, 60)
        );
        assert_eq!(x.eth_key_env, "KYA_ETH_KEY");
        let terms = crate::pay::route_terms(ok.x402.as_ref(), &ok.routes[0])
            .unwrap_or_else(|e| unreachable!("{e}"))
            .unwrap_or_else(|| unreachable!());
        assert_eq!(
            terms.requirements().map(|r| r.amount).ok(),
            Some("12500000".to_owned())
        );

        let refused = |text: String, needle: &str| {
            assert!(
                matches!(Config::parse(&text), Err(GatewayError::Config(m)) if m.contains(needle)),
                "{needle}"
            );
        };
        refused(
            format!("{PROXY}{}", paid_route("")),
            "needs an [x402] section",
        );
        refused(
            format!("{PROXY}{}{X402}", paid_route("price = \"12.50 USD\"\n")),
            "exclude each other",
        );
        refused(format!("{BASE}{}{X402}", paid_route("")), "proxy mode");
        refused(
            format!("{PROXY}{}{X402}unknown = 1\n", paid_route("")),
            "unknown",
        );
        for bad in [0, 601] {
            refused(
                format!(
                    "{PROXY}{}{X402}settle_timeout_seconds = {bad}\n",
                    paid_route("")
                ),
                "settle_timeout_seconds",
            );
        }
    }

    #[test]
    fn x402_terms_that_cannot_be_offered_are_configuration_errors() {
        let terms = |route: &str, x402: &str| {
            let c = Config::parse(&format!("{PROXY}{route}{x402}"))
                .unwrap_or_else(|e| unreachable!("{e}"));
            crate::pay::route_terms(c.x402.as_ref(), &c.routes[0])
        };
        let precise = "[[route]]\npath = \"/c\"\naction = \"payments/send\"\n[route.x402]\nprice = \"0.0000001\"\n";
        assert!(
            terms(precise, X402).is_err(),
            "more decimals than the token"
        );
        let long = "[[route]]\npath = \"/c\"\naction = \"payments/send\"\n[route.x402]\nprice = \"1\"\nmax_timeout_seconds = 3601\n";
        assert!(terms(long, X402).is_err(), "a window over an hour");
        let bad_token = X402.replace("0x5FbDB2315678afecb367f032d93F642f64180aa3", "0x5fbdb");
        assert!(
            terms(&paid_route(""), &bad_token).is_err(),
            "not an address"
        );
    }
}
