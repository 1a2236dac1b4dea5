//! ERC-8004 agent cards a verifier holds (see [`kya_core::card`]): when the policy asks for
//! them (`requireAgentCards`), every registered link's agent must have a card at its
//! on-chain `agentURI` that is active and names that very registration — so an agent cannot
//! borrow another agent's published identity, and one its owner marked inactive is refused.
//!
//! Cards are fetched by whatever the merchant trusts to fetch them and handed to the
//! verifier by URI ([`AgentCards::insert`]); without a card, a registered link is refused.

use std::sync::Arc;

use kya_core::card::AgentCard;
use sha2::{Digest as _, Sha256};

use crate::held::Held;

/// Where a verifier finds agent cards, by the `agentURI` the registry records.
pub trait AgentCardView: Send + Sync {
    /// The card at `uri`, if held.
    fn card(&self, uri: &str) -> Option<Arc<AgentCard>>;

    /// Changes whenever a card is added or replaced (cached verdicts are keyed by it).
    fn state_id(&self) -> [u8; 32];
}

/// Agent cards held in memory.
#[derive(Debug, Clone)]
pub struct AgentCards {
    cards: Held<AgentCard>,
}

impl Default for AgentCards {
    fn default() -> Self {
        Self {
            cards: Held::new(b"kya agent cards v1"),
        }
    }
}

impl AgentCards {
    /// No cards.
    pub fn new() -> Self {
        Self::default()
    }

    /// Holds `card` as the one at `uri` (replacing any).
    pub fn insert(&mut self, uri: impl Into<String>, card: AgentCard) {
        let digest = Sha256::digest(card.to_json().to_string()).into();
        self.cards.insert(uri.into(), card, digest);
    }
}

impl AgentCardView for AgentCards {
    fn card(&self, uri: &str) -> Option<Arc<AgentCard>> {
        self.cards.get(uri)
    }

    fn state_id(&self) -> [u8; 32] {
        self.cards.state()
    }
}
