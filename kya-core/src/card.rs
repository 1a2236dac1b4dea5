//! ERC-8004 agent registration files ("agent cards"): what an agent's on-chain `agentURI`
//! points to.
//!
//! ```json
//! {
//!   "type": "https://eips.ethereum.org/EIPS/eip-8004#registration-v1",
//!   "name": "shopper", "description": "buys books within its grants",
//!   "services": [{"name": "DID", "endpoint": "did:key:z6Mk…"}],
//!   "registrations": [{"agentId": 7, "agentRegistry": "eip155:31337:0x5FbD…0aa3"}],
//!   "supportedTrust": ["kya-credentials"],
//!   "active": true
//! }
//! ```
//!
//! kya writes cards ([`AgentCard::to_json`]), reads them strictly
//! ([`AgentCard::from_slice`], every violation listed), and a verifier whose policy asks for
//! it checks that the card an agent's registration points to names that very registration
//! and is active ([`AgentCard::names`]).
//!
//! ```
//! use kya_core::card::{AgentCard, Service, KYA_TRUST};
//! let registration = serde_json::from_value(serde_json::json!({
//!     "agentRegistry": "eip155:31337:0x5FbDB2315678afecb367f032d93F642f64180aa3",
//!     "agentId": "7"
//! }))?;
//! let card = AgentCard {
//!     name: "shopper".into(),
//!     description: "buys books within its grants".into(),
//!     image: None,
//!     services: vec![Service::new("web", "https://shopper.example/")],
//!     registrations: vec![registration],
//!     supported_trust: vec![KYA_TRUST.into()],
//!     active: true,
//!     x402_support: None,
//! };
//! let bytes = serde_json::to_vec(&card.to_json())?;
//! let read = AgentCard::from_slice(&bytes)?;
//! assert!(read.names(&card.registrations[0]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde_json::{Map, Value, json};

use crate::credential::{AgentId, AgentRegistration, RegistryAddress, is_url};
use crate::json::{JsonLimits, parse_i_json};

/// The registration file's `type`.
pub const REGISTRATION_V1: &str = "https://eips.ethereum.org/EIPS/eip-8004#registration-v1";
/// The `supportedTrust` value that declares kya credentials.
pub const KYA_TRUST: &str = "kya-credentials";
/// Cards are read with these bounds.
pub const CARD_LIMITS: JsonLimits = JsonLimits {
    max_bytes: 64 * 1024,
    max_depth: 8,
};
/// At most this many services, registrations and trust models each.
pub const MAX_LIST: usize = 64;

/// One advertised endpoint (`services[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// What it is (`web`, `A2A`, `MCP`, `DID`, `agentWallet`, …).
    pub name: String,
    /// Where.
    pub endpoint: String,
    /// Its version, if given.
    pub version: Option<String>,
}

impl Service {
    /// A service without a version.
    pub fn new(name: impl Into<String>, endpoint: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            endpoint: endpoint.into(),
            version: None,
        }
    }
}

/// An ERC-8004 agent registration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentCard {
    /// `name`.
    pub name: String,
    /// `description`.
    pub description: String,
    /// `image`, a URL.
    pub image: Option<String>,
    /// `services`.
    pub services: Vec<Service>,
    /// `registrations`: the on-chain identities this card belongs to.
    pub registrations: Vec<AgentRegistration>,
    /// `supportedTrust`.
    pub supported_trust: Vec<String>,
    /// `active`.
    pub active: bool,
    /// `x402Support`, if stated.
    pub x402_support: Option<bool>,
}

/// Why a card was refused: every violation found, each a sentence naming the field.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("not an erc-8004 registration file: {}", .violations.join("; "))]
pub struct CardError {
    /// The violations.
    pub violations: Vec<String>,
}

impl AgentCard {
    /// The registration file.
    pub fn to_json(&self) -> Value {
        let services: Vec<Value> = self
            .services
            .iter()
            .map(|s| {
                let mut o = json!({"name": s.name, "endpoint": s.endpoint});
                if let Some(v) = &s.version {
                    o["version"] = v.clone().into();
                }
                o
            })
            .collect();
        let registrations: Vec<Value> = self
            .registrations
            .iter()
            .map(|r| {
                // ERC-8004 writes the token id as a JSON number.
                let id: Value = r
                    .agent_id
                    .as_str()
                    .parse::<u64>()
                    .map_or_else(|_| r.agent_id.as_str().into(), Value::from);
                json!({"agentId": id, "agentRegistry": r.agent_registry.to_string()})
            })
            .collect();
        let mut card = json!({
            "type": REGISTRATION_V1,
            "name": self.name,
            "description": self.description,
            "services": services,
            "registrations": registrations,
            "supportedTrust": self.supported_trust,
            "active": self.active,
        });
        if let Some(image) = &self.image {
            card["image"] = image.clone().into();
        }
        if let Some(x402) = self.x402_support {
            card["x402Support"] = x402.into();
        }
        card
    }

    /// Reads a card from untrusted bytes ([`CARD_LIMITS`]), listing every violation.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CardError> {
        let value = parse_i_json(bytes, CARD_LIMITS).map_err(|e| CardError {
            violations: vec![e.to_string()],
        })?;
        Self::from_value(&value)
    }

    /// Reads a card from JSON, listing every violation.
    pub fn from_value(value: &Value) -> Result<Self, CardError> {
        let mut v = Violations::default();
        let Some(o) = value.as_object() else {
            return Err(CardError {
                violations: vec!["a registration file is a json object".into()],
            });
        };
        if o.get("type").and_then(Value::as_str) != Some(REGISTRATION_V1) {
            v.add(format!("type must be {REGISTRATION_V1}"));
        }
        let name = v.string(o, "name", true).unwrap_or_default();
        let description = v.string(o, "description", true).unwrap_or_default();
        let image = v.string(o, "image", false);
        if image.as_deref().is_some_and(|i| !is_url(i)) {
            v.add("image must be a url".into());
        }
        let services = v.list(o, "services", read_service);
        let registrations = v.list(o, "registrations", read_registration);
        let supported_trust = v.list(o, "supportedTrust", |t| {
            t.as_str()
                .map(str::to_owned)
                .ok_or_else(|| "must be a string".to_owned())
        });
        let active = v.boolean(o, "active").unwrap_or(false);
        let x402_support = v.boolean(o, "x402Support");
        v.finish(Self {
            name,
            description,
            image,
            services,
            registrations,
            supported_trust,
            active,
            x402_support,
        })
    }

    /// Whether the card belongs to `registration` (lists it among its `registrations`).
    pub fn names(&self, registration: &AgentRegistration) -> bool {
        self.registrations.contains(registration)
    }
}

/// The domain-verification file an agent's web origin serves at
/// `/.well-known/agent-registration.json`: the registrations of the agents the domain
/// stands behind.
pub fn well_known(registrations: &[AgentRegistration]) -> Value {
    let card = AgentCard {
        name: String::new(),
        description: String::new(),
        image: None,
        services: Vec::new(),
        registrations: registrations.to_vec(),
        supported_trust: Vec::new(),
        active: true,
        x402_support: None,
    };
    json!({"registrations": card.to_json()["registrations"]})
}

fn read_service(s: &Value) -> Result<Service, String> {
    let o = s.as_object().ok_or("must be an object")?;
    let text = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
    let name = text("name")
        .filter(|n| !n.is_empty())
        .ok_or("needs a name")?;
    let endpoint = text("endpoint")
        .filter(|e| !e.is_empty())
        .ok_or("needs an endpoint")?;
    let version = match o.get("version") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err("version must be a string".into()),
    };
    Ok(Service {
        name,
        endpoint,
        version,
    })
}

fn read_registration(r: &Value) -> Result<AgentRegistration, String> {
    let o = r.as_object().ok_or("must be an object")?;
    let id = match o.get("agentId") {
        Some(Value::Number(n)) => n.as_u64().map(|n| n.to_string()),
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
    .ok_or("agentId must be a non-negative integer")?;
    let agent_id: AgentId = id.parse().map_err(|e| format!("agentId: {e}"))?;
    let agent_registry: RegistryAddress = o
        .get("agentRegistry")
        .and_then(Value::as_str)
        .ok_or("agentRegistry must be eip155:<chain>:<address>")?
        .parse()
        .map_err(|e| format!("agentRegistry: {e}"))?;
    Ok(AgentRegistration {
        agent_registry,
        agent_id,
    })
}

/// Collects violations while a card is read.
#[derive(Default)]
struct Violations(Vec<String>);

impl Violations {
    fn add(&mut self, v: String) {
        // Bounded: a hostile card cannot make the report itself large.
        if self.0.len() < 32 {
            self.0.push(v);
        }
    }

    fn string(&mut self, o: &Map<String, Value>, k: &str, required: bool) -> Option<String> {
        match o.get(k) {
            Some(Value::String(s)) if !required || !s.is_empty() => Some(s.clone()),
            None if !required => None,
            _ => {
                self.add(format!("{k} must be a non-empty string"));
                None
            }
        }
    }

    fn boolean(&mut self, o: &Map<String, Value>, k: &str) -> Option<bool> {
        match o.get(k) {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                self.add(format!("{k} must be true or false"));
                None
            }
        }
    }

    fn list<T>(
        &mut self,
        o: &Map<String, Value>,
        k: &str,
        read: impl Fn(&Value) -> Result<T, String>,
    ) -> Vec<T> {
        let items = match o.get(k) {
            None => return Vec::new(),
            Some(Value::Array(a)) if a.len() <= MAX_LIST => a,
            Some(Value::Array(_)) => {
                self.add(format!("{k} has more than {MAX_LIST} entries"));
                return Vec::new();
            }
            Some(_) => {
                self.add(format!("{k} must be an array"));
                return Vec::new();
            }
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match read(item) {
                Ok(t) => out.push(t),
                Err(e) => self.add(format!("{k}[{i}] {e}")),
            }
        }
        out
    }

    fn finish(self, card: AgentCard) -> Result<AgentCard, CardError> {
        if self.0.is_empty() {
            Ok(card)
        } else {
            Err(CardError { violations: self.0 })
        }
    }
}
