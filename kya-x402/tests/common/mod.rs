//! A shop on a real anvil: the test stablecoin deployed and minted to the agent's registered
//! wallet, a principal → agent → sub-agent chain whose grants name the token (CAIP-19), a
//! registry view tying the sub-agent to its wallet, a kya gate with a priced route, and a
//! facilitator.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    dead_code,
    unreachable_pub,
    missing_docs
)]

use std::path::Path;
use std::sync::Arc;

use kya_core::credential::{AgentAuthorization, AgentDelegation, AgentRegistration};
use kya_core::grant::{Action, Amount, Grant, Money};
use kya_core::{Did, DidKey, SecretKey, Timestamp};
use kya_testkit::Anvil;
use kya_verify::http::{HttpPolicy, HttpRequest, KyaGate, RequestSigner, Route, SignOptions};
use kya_verify::{MemoryLedger, MemoryRegistry, Policy, Verifier};
use kya_x402::token::{self, KyaTestUSD};
use kya_x402::{
    Address, Facilitator, KnownToken, PAYMENT_SIGNATURE, PaidGate, PaymentRequired, PaymentTerms,
    PrivateKeySigner, U256, choose_requirements, create_payment,
};
use serde_json::Value;

pub const AUTHORITY: &str = "shop.example";
pub const CHECKOUT: &str = "/api/checkout";

pub struct Shop {
    pub anvil: Anvil,
    pub token: Address,
    pub facilitator: Facilitator,
    pub agent_wallet: PrivateKeySigner,
    pub stranger: PrivateKeySigner,
    pub merchant: Address,
    pub other_merchant: Address,
    pub registry: Arc<MemoryRegistry>,
    pub registration: AgentRegistration,
    pub sub_agent: SecretKey,
    pub chain: Vec<Value>,
    pub leaf_digest: kya_core::CredentialDigest,
}

pub fn key(seed: u8) -> SecretKey {
    SecretKey::from_seed(&[seed; 32])
}

pub fn did(k: &SecretKey) -> DidKey {
    DidKey::from_public_key(k.public_key())
}

fn grant(json: &str) -> Grant {
    serde_json::from_str(json).unwrap()
}

impl Shop {
    /// `leaf_ceiling`: the sub-agent's per-request ceiling, in whole tokens; `leaf_asset`:
    /// the asset the chain's grants name (`None`: the token's CAIP-19 id).
    pub async fn open(leaf_ceiling: &str, leaf_asset: Option<&str>) -> Self {
        let anvil = Anvil::spawn(Path::new(env!("CARGO_MANIFEST_DIR")), &[]).unwrap();
        let keys = anvil.keys().to_vec();
        let minter = kya_registry_like_provider(anvil.endpoint(), keys[0].clone());
        let deployed = KyaTestUSD::deploy(&minter).await.unwrap();
        let token = *deployed.address();
        let agent_wallet = keys[2].clone();
        deployed
            .mint(agent_wallet.address(), U256::from(100_000_000u64))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        let stranger = keys[5].clone();
        deployed
            .mint(stranger.address(), U256::from(100_000_000u64))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        let facilitator = Facilitator::connect(anvil.endpoint(), keys[1].clone())
            .await
            .unwrap();

        let asset = kya_x402::caip19_erc20(31_337, token).unwrap();
        let leaf_asset = leaf_asset.map_or_else(|| asset.to_string(), str::to_owned);
        let (principal, agent, sub_agent) = (key(1), key(2), key(3));
        let now = Timestamp::now();
        let registration: AgentRegistration = serde_json::from_value(serde_json::json!({
            "agentRegistry": "eip155:31337:0x5FbDB2315678afecb367f032d93F642f64180aa3",
            "agentId": "7"
        }))
        .unwrap();
        let root = AgentAuthorization::builder(Did::Key(did(&principal)), did(&agent))
            .valid_from(now.add_seconds(-3600))
            .valid_until(now.add_seconds(30 * 86_400))
            .grant(grant(&format!(
                r#"{{"action": "payments", "maxAmount": {{"value": "100.00", "asset": "{leaf_asset}"}},
                    "audience": ["did:web:shop.example"]}}"#
            )))
            .sign(&principal, now.add_seconds(-3600))
            .unwrap();
        let leaf = AgentDelegation::builder(&root, did(&sub_agent))
            .unwrap()
            .registration(registration.clone())
            .valid_until(now.add_seconds(7 * 86_400))
            .grant(grant(&format!(
                r#"{{"action": "payments/send",
                    "maxAmount": {{"value": "{leaf_ceiling}", "asset": "{leaf_asset}"}},
                    "audience": ["did:web:shop.example"],
                    "budget": {{"value": "40.00", "asset": "{leaf_asset}", "periodSeconds": 86400}}}}"#
            )))
            .sign(&agent, now.add_seconds(-3600))
            .unwrap();
        let registry = Arc::new(MemoryRegistry::new());
        registry.add_agent(&registration, keys[0].address().0.0, "ipfs://sub-agent");
        registry.bind_agent_key(
            &registration,
            sub_agent.public_key(),
            now.add_seconds(-7200),
        );
        registry.set_agent_wallet(&registration, Some(agent_wallet.address().0.0));
        Shop {
            token,
            facilitator,
            agent_wallet,
            stranger,
            merchant: keys[3].address(),
            other_merchant: keys[4].address(),
            registry,
            registration,
            sub_agent,
            chain: vec![root.document().clone(), leaf.document().clone()],
            leaf_digest: leaf.digest(),
            anvil,
        }
    }

    pub fn terms(&self, price: &str) -> PaymentTerms {
        PaymentTerms {
            chain_id: 31_337,
            token: self.token,
            decimals: token::DECIMALS,
            eip712_name: token::NAME.into(),
            eip712_version: token::VERSION.into(),
            pay_to: self.merchant,
            price: price.parse().unwrap(),
            max_timeout_seconds: 120,
        }
    }

    /// A merchant instance: its own verifier, ledger and nonce store, the shared registry.
    pub fn gate(&self, price: &str) -> PaidGate {
        self.paid_gate(
            price,
            self.verifier()
                .with_ledger(Arc::new(MemoryLedger::default())),
        )
    }

    /// The merchant's verifier (trusting the principal, the shared registry), without stores.
    pub fn verifier(&self) -> Verifier {
        let policy = Policy::builder()
            .trust_root(Did::Key(did(&key(1))))
            .audience("did:web:shop.example")
            .build();
        Verifier::new(policy).with_registry(self.registry.clone())
    }

    /// The priced checkout (and `/api/other`) in front of `verifier`.
    pub fn paid_gate(&self, price: &str, verifier: Verifier) -> PaidGate {
        let gate = KyaGate::new(
            Arc::new(verifier),
            HttpPolicy::default()
                .authority(AUTHORITY)
                .route(Route::new(
                    CHECKOUT,
                    Action::parse("payments/send").unwrap(),
                ))
                .route(Route::new(
                    "/api/other",
                    Action::parse("payments/send").unwrap(),
                )),
        );
        PaidGate::new(Arc::new(gate))
            .price(CHECKOUT, self.terms(price))
            .price("/api/other", self.terms(price))
    }

    /// A request to `path`, signed by the sub-agent (declaring `declared`, if any), carrying
    /// `payment` (a `PAYMENT-SIGNATURE` value), if any.
    pub fn request(
        &self,
        path: &str,
        declared: Option<&str>,
        payment: Option<&str>,
    ) -> HttpRequest {
        let (_, mut request) =
            HttpRequest::from_url("POST", &format!("https://{AUTHORITY}{path}")).unwrap();
        request.body = b"{\"cart\":\"c-1\"}".to_vec();
        if let Some(p) = payment {
            request = request.header(PAYMENT_SIGNATURE, p);
        }
        let money = declared.map(|d| {
            Money::new(
                d.parse::<Amount>().unwrap(),
                kya_x402::caip19_erc20(31_337, self.token).unwrap(),
            )
        });
        let now = Timestamp::now();
        RequestSigner::new(&self.sub_agent, &Value::Array(self.chain.clone()))
            .unwrap()
            .sign(
                &mut request,
                &SignOptions {
                    action: None,
                    amount: money.as_ref(),
                    created: now,
                    expires: now.add_seconds(60),
                    nonce: &RequestSigner::random_nonce(),
                },
            )
            .unwrap();
        request
    }

    pub async fn balance(&self, who: Address) -> U256 {
        KyaTestUSD::new(self.token, self.facilitator.provider())
            .balanceOf(who)
            .call()
            .await
            .unwrap()
    }
}

/// A provider that sends as `signer` (the token's minter).
pub fn kya_registry_like_provider(
    rpc: &str,
    signer: PrivateKeySigner,
) -> alloy::providers::DynProvider {
    use alloy::providers::{Provider as _, ProviderBuilder};
    ProviderBuilder::default()
        .with_gas_estimation()
        .with_simple_nonce_management()
        .fetch_chain_id()
        .wallet(alloy::network::EthereumWallet::from(signer))
        .connect_http(rpc.parse().unwrap())
        .erased()
}

/// The agent's side: read the 402, choose what its grants allow, sign with its wallet.
pub fn pay(shop: &Shop, wallet: &PrivateKeySigner, header: &str) -> String {
    let required = PaymentRequired::from_header(header).unwrap();
    let grants = grants_of(&shop.chain[1]);
    let tokens = [KnownToken {
        asset: kya_x402::caip19_erc20(31_337, shop.token).unwrap(),
        decimals: 6,
    }];
    let (chosen, money) = choose_requirements(
        &required,
        &grants,
        &Action::parse("payments/send").unwrap(),
        Some("did:web:shop.example"),
        &tokens,
        Timestamp::now(),
    )
    .expect("the grants allow the price");
    assert_eq!(money.value.to_string(), "12.500000");
    create_payment(wallet, &required, chosen, Timestamp::now())
        .unwrap()
        .to_header()
}

pub fn grants_of(credential: &serde_json::Value) -> Vec<kya_core::grant::Grant> {
    credential["credentialSubject"]["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| serde_json::from_value(g.clone()).unwrap())
        .collect()
}
