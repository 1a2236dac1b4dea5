//! The W3C Verifiable Credentials Data Model 2.0, checked without fetching anything.
//!
//! [`check_credential`] and [`check_presentation`] return every violation of a normative rule
//! of VC DM 2.0 (<https://www.w3.org/TR/vc-data-model-2.0/>) that a document shows by itself,
//! each with the JSON path where it was found and the section that states the rule. Every
//! kya credential and presentation passes through them before anything else is read.
//!
//! Without a JSON-LD processor, what contexts define is known only for the contexts kya knows
//! (the VC 2.0 context, kya's own, and inline context objects). Where a rule depends on a
//! context that is only named by URL, the check does not guess.
//!
//! Work is bounded: at most [`MAX_VIOLATIONS`] are collected (then one
//! [`Rule::TooManyViolations`]), and nesting deeper than [`MAX_DEPTH`] is refused.
//!
//! ```
//! use kya_core::vcdm::{Rule, check_credential};
//! use serde_json::json;
//!
//! let ok = json!({
//!     "@context": ["https://www.w3.org/ns/credentials/v2"],
//!     "type": ["VerifiableCredential"],
//!     "issuer": "did:example:issuer",
//!     "credentialSubject": {"id": "did:example:subject"}
//! });
//! assert!(check_credential(&ok).is_empty());
//!
//! let bad = json!({
//!     "@context": ["https://www.w3.org/ns/credentials/v2"],
//!     "type": ["VerifiableCredential"],
//!     "issuer": "not a url",
//!     "credentialSubject": {},
//!     "evidence": {"id": "https://example.org/evidence/1"}
//! });
//! let found = check_credential(&bad);
//! assert_eq!(found.len(), 3);
//! assert_eq!(found[0].path, "$.issuer");
//! assert!(matches!(found[2].rule, Rule::TypeRequired { property: "evidence" }));
//! assert_eq!(found[2].rule.section(), "5.6");
//! ```

use std::collections::HashSet;
use std::fmt;

use serde_json::{Map, Value};

use crate::timestamp::Timestamp;

/// The base context every VC 2.0 credential and presentation starts with.
pub const VC_V2_CONTEXT: &str = "https://www.w3.org/ns/credentials/v2";

/// Most violations reported for one document; more are summarised by one
/// [`Rule::TooManyViolations`].
pub const MAX_VIOLATIONS: usize = 32;

/// Deepest nesting of arrays and objects the check walks; deeper documents are refused.
pub const MAX_DEPTH: usize = 48;

/// The terms the VC 2.0 context defines (it is `@protected`: no later context may redefine
/// them). Checked against `test-vectors/contexts/credentials-v2.jsonld` by a test.
pub const VC_V2_TERMS: &[&str] = &[
    "id",
    "type",
    "description",
    "digestMultibase",
    "digestSRI",
    "mediaType",
    "name",
    "VerifiableCredential",
    "EnvelopedVerifiableCredential",
    "VerifiablePresentation",
    "EnvelopedVerifiablePresentation",
    "JsonSchemaCredential",
    "JsonSchema",
    "BitstringStatusListCredential",
    "BitstringStatusList",
    "BitstringStatusListEntry",
    "DataIntegrityProof",
    "...",
    "_sd",
    "_sd_alg",
    "aud",
    "cnf",
    "exp",
    "iat",
    "iss",
    "jku",
    "kid",
    "nbf",
    "sub",
    "x5u",
];

/// Which kind of document to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DocumentKind {
    /// A verifiable credential.
    Credential,
    /// A verifiable presentation.
    Presentation,
}

impl DocumentKind {
    /// The kind a document claims: a presentation if its `type` names one (or, without a
    /// usable `type`, if it carries `verifiableCredential` or `holder`), else a credential.
    pub fn of(document: &Value) -> Self {
        let types = document.get("type").map(type_names).unwrap_or_default();
        let vp = ["VerifiablePresentation", "EnvelopedVerifiablePresentation"];
        if types.iter().any(|t| vp.contains(t)) {
            return Self::Presentation;
        }
        let no_vc_type = !types
            .iter()
            .any(|t| ["VerifiableCredential", "EnvelopedVerifiableCredential"].contains(t));
        let vp_members =
            document.get("verifiableCredential").is_some() || document.get("holder").is_some();
        if no_vc_type && vp_members && document.get("credentialSubject").is_none() {
            Self::Presentation
        } else {
            Self::Credential
        }
    }
}

/// One broken rule, where it was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {rule} (vc data model 2.0 §{})", rule.section())]
pub struct Violation {
    /// Where: `$` is the document, then `.member` and `[index]` steps.
    pub path: String,
    /// Which rule.
    pub rule: Rule,
}

/// A normative rule of VC DM 2.0 that a document breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rule {
    /// A credential or presentation is a JSON object.
    NotAnObject,
    /// `@context` is missing.
    ContextMissing,
    /// The first `@context` item is not the VC 2.0 context.
    ContextFirstNotV2 {
        /// The first item (truncated), or its JSON kind.
        found: String,
    },
    /// A `@context` item is neither a URL nor an object.
    ContextEntryInvalid,
    /// An inline context redefines a term a protected context defines.
    ProtectedTermRedefined {
        /// The term.
        term: String,
    },
    /// An inline context maps a term to something that is not an IRI.
    ContextTermNotIri {
        /// The term.
        term: String,
    },
    /// `type` is missing.
    TypeMissing,
    /// A `type` value is not a string (or a non-empty array of strings).
    TypeNotString,
    /// `type` does not include the type the document must have.
    TypeLacks {
        /// The type required.
        expected: &'static str,
    },
    /// A type that no context maps to an IRI (the issuer-dependent vocabulary was turned
    /// off with `"@vocab": null`).
    TypeUnmapped {
        /// The type.
        term: String,
    },
    /// An `id` is not a single URL.
    IdNotUrl,
    /// `issuer` is missing.
    IssuerMissing,
    /// `issuer` is neither a URL nor an object with a URL `id`.
    IssuerInvalid,
    /// `credentialSubject` is missing.
    SubjectMissing,
    /// `credentialSubject` is neither an object nor a non-empty array of objects.
    SubjectInvalid,
    /// A `credentialSubject` object makes no claim at all.
    SubjectEmpty,
    /// `validFrom` or `validUntil` is not an XSD `dateTimeStamp`.
    DateTimeStampInvalid {
        /// The property.
        property: &'static str,
    },
    /// `validFrom` is later than `validUntil`.
    ValidityInverted {
        /// `validFrom`.
        valid_from: Timestamp,
        /// `validUntil`.
        valid_until: Timestamp,
    },
    /// A property whose values must be objects has another value.
    NotObjects {
        /// The property.
        property: &'static str,
    },
    /// An object of `property` does not specify its `type`.
    TypeRequired {
        /// The property.
        property: &'static str,
    },
    /// An object of `property` has no `id`, which it must have.
    IdRequired {
        /// The property.
        property: &'static str,
    },
    /// A `name` or `description` value is neither a string nor a language value object.
    LanguageValueInvalid {
        /// What is wrong.
        reason: String,
    },
    /// A related resource has neither `digestSRI` nor `digestMultibase` (or one is not a
    /// string of the right form).
    DigestInvalid,
    /// Two related resources have the same `id`.
    RelatedResourceRepeated,
    /// A `verifiableCredential` value is not an object.
    VerifiableCredentialNotObject,
    /// `holder` is neither a URL nor an object with a URL `id`.
    HolderInvalid,
    /// An enveloped credential or presentation breaks its form.
    EnvelopeInvalid {
        /// What is wrong.
        reason: &'static str,
    },
    /// The document nests deeper than [`MAX_DEPTH`].
    TooDeep,
    /// More violations were found than are reported.
    TooManyViolations {
        /// How many are reported.
        limit: usize,
    },
}

impl Rule {
    /// The section of VC DM 2.0 that states the rule.
    pub fn section(&self) -> &'static str {
        match self {
            Self::NotAnObject | Self::TooDeep | Self::TooManyViolations { .. } => "6.1",
            Self::ContextMissing | Self::ContextFirstNotV2 { .. } | Self::ContextEntryInvalid => {
                "4.3"
            }
            Self::ProtectedTermRedefined { .. } => "5.2",
            Self::IdNotUrl => "4.4",
            Self::ContextTermNotIri { .. }
            | Self::TypeMissing
            | Self::TypeNotString
            | Self::TypeLacks { .. }
            | Self::TypeUnmapped { .. } => "4.5",
            Self::LanguageValueInvalid { .. } => "4.6",
            Self::IssuerMissing | Self::IssuerInvalid => "4.7",
            Self::SubjectMissing | Self::SubjectInvalid | Self::SubjectEmpty => "4.8",
            Self::DateTimeStampInvalid { .. } | Self::ValidityInverted { .. } => "4.9",
            Self::NotObjects { property }
            | Self::TypeRequired { property }
            | Self::IdRequired { property } => property_section(property),
            Self::DigestInvalid | Self::RelatedResourceRepeated => "5.3",
            Self::VerifiableCredentialNotObject | Self::HolderInvalid => "4.13",
            Self::EnvelopeInvalid { .. } => "4.13.1",
        }
    }

    /// A stable snake_case name, for machines.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotAnObject => "not_an_object",
            Self::ContextMissing => "context_missing",
            Self::ContextFirstNotV2 { .. } => "context_first_not_v2",
            Self::ContextEntryInvalid => "context_entry_invalid",
            Self::ProtectedTermRedefined { .. } => "protected_term_redefined",
            Self::ContextTermNotIri { .. } => "context_term_not_iri",
            Self::TypeMissing => "type_missing",
            Self::TypeNotString => "type_not_string",
            Self::TypeLacks { .. } => "type_lacks",
            Self::TypeUnmapped { .. } => "type_unmapped",
            Self::IdNotUrl => "id_not_url",
            Self::IssuerMissing => "issuer_missing",
            Self::IssuerInvalid => "issuer_invalid",
            Self::SubjectMissing => "subject_missing",
            Self::SubjectInvalid => "subject_invalid",
            Self::SubjectEmpty => "subject_empty",
            Self::DateTimeStampInvalid { .. } => "datetimestamp_invalid",
            Self::ValidityInverted { .. } => "validity_inverted",
            Self::NotObjects { .. } => "not_objects",
            Self::TypeRequired { .. } => "type_required",
            Self::IdRequired { .. } => "id_required",
            Self::LanguageValueInvalid { .. } => "language_value_invalid",
            Self::DigestInvalid => "digest_invalid",
            Self::RelatedResourceRepeated => "related_resource_repeated",
            Self::VerifiableCredentialNotObject => "verifiable_credential_not_object",
            Self::HolderInvalid => "holder_invalid",
            Self::EnvelopeInvalid { .. } => "envelope_invalid",
            Self::TooDeep => "too_deep",
            Self::TooManyViolations { .. } => "too_many_violations",
        }
    }
}

fn property_section(property: &str) -> &'static str {
    match property {
        "credentialStatus" => "4.10",
        "credentialSchema" => "4.11",
        "proof" => "4.12",
        "relatedResource" => "5.3",
        "refreshService" => "5.4",
        "termsOfUse" => "5.5",
        "evidence" => "5.6",
        "verifiableCredential" => "4.13",
        _ => "4",
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAnObject => f.write_str("must be a json object"),
            Self::ContextMissing => f.write_str("@context is missing"),
            Self::ContextFirstNotV2 { found } => write!(
                f,
                "the first @context item must be {VC_V2_CONTEXT}, found {found}"
            ),
            Self::ContextEntryInvalid => f.write_str("a @context item must be a url or an object"),
            Self::ProtectedTermRedefined { term } => {
                write!(f, "redefines the protected term `{term}`")
            }
            Self::ContextTermNotIri { term } => {
                write!(f, "maps the term `{term}` to something that is not an iri")
            }
            Self::TypeMissing => f.write_str("type is missing"),
            Self::TypeNotString => f.write_str("type values must be strings"),
            Self::TypeLacks { expected } => write!(f, "type must include {expected}"),
            Self::TypeUnmapped { term } => {
                write!(f, "the type `{term}` is not defined by any context")
            }
            Self::IdNotUrl => f.write_str("an id must be a single url"),
            Self::IssuerMissing => f.write_str("issuer is missing"),
            Self::IssuerInvalid => f.write_str("issuer must be a url or an object with a url id"),
            Self::SubjectMissing => f.write_str("credentialSubject is missing"),
            Self::SubjectInvalid => {
                f.write_str("credentialSubject must be an object or a non-empty array of objects")
            }
            Self::SubjectEmpty => f.write_str("a credentialSubject must make at least one claim"),
            Self::DateTimeStampInvalid { property } => {
                write!(f, "{property} must be an xsd dateTimeStamp")
            }
            Self::ValidityInverted {
                valid_from,
                valid_until,
            } => write!(
                f,
                "validFrom {valid_from} is after validUntil {valid_until}"
            ),
            Self::NotObjects { property } => {
                write!(f, "{property} must be an object or an array of objects")
            }
            Self::TypeRequired { property } => write!(f, "each {property} must specify its type"),
            Self::IdRequired { property } => write!(f, "each {property} must have an id"),
            Self::LanguageValueInvalid { reason } => {
                write!(f, "not a string or language value object: {reason}")
            }
            Self::DigestInvalid => {
                f.write_str("a related resource needs a digestSRI or a digestMultibase string")
            }
            Self::RelatedResourceRepeated => f.write_str("related resource ids must be unique"),
            Self::VerifiableCredentialNotObject => {
                f.write_str("verifiableCredential values must be objects")
            }
            Self::HolderInvalid => f.write_str("holder must be a url or an object with a url id"),
            Self::EnvelopeInvalid { reason } => write!(f, "enveloped document: {reason}"),
            Self::TooDeep => write!(f, "nested deeper than {MAX_DEPTH} levels"),
            Self::TooManyViolations { limit } => {
                write!(f, "more violations than the {limit} reported")
            }
        }
    }
}

/// Every violation of one document, in the order found (never empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violations(Vec<Violation>);

impl Violations {
    /// `Err` with the violations, or `Ok` when there are none.
    pub fn check(found: Vec<Violation>) -> Result<(), Self> {
        if found.is_empty() {
            Ok(())
        } else {
            Err(Self(found))
        }
    }

    /// The violations.
    pub fn as_slice(&self) -> &[Violation] {
        &self.0
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{v}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Violations {}

/// Checks a verifiable credential against every rule of VC DM 2.0 it can show by itself.
pub fn check_credential(document: &Value) -> Vec<Violation> {
    let mut c = Checker::default();
    c.credential(document, &Path::Root);
    c.finish()
}

/// Checks a verifiable presentation, and each credential it embeds, against every rule of
/// VC DM 2.0 they can show by themselves.
pub fn check_presentation(document: &Value) -> Vec<Violation> {
    let mut c = Checker::default();
    c.presentation(document, &Path::Root);
    c.finish()
}

/// [`check_credential`] or [`check_presentation`], as [`DocumentKind::of`] says.
pub fn check(document: &Value) -> (DocumentKind, Vec<Violation>) {
    let kind = DocumentKind::of(document);
    let found = match kind {
        DocumentKind::Presentation => check_presentation(document),
        DocumentKind::Credential => check_credential(document),
    };
    (kind, found)
}

/// A URL in the sense VC 2.0 uses (an absolute IRI): a scheme, a colon, something after it,
/// no white space.
pub fn is_url(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    !rest.is_empty()
        && scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && no_space_or_control(s)
}

/// No whitespace and no control character (the same test as `char::is_whitespace` and
/// `char::is_control`; ASCII text, the usual case, is checked bytewise).
fn no_space_or_control(s: &str) -> bool {
    if s.is_ascii() {
        s.bytes().all(|b| b > b' ' && b != 0x7f)
    } else {
        !s.chars().any(|c| c.is_whitespace() || c.is_control())
    }
}

/// A JSON path, built only when a violation is recorded.
enum Path<'a> {
    Root,
    Member(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    fn render(&self, out: &mut String) {
        match self {
            Path::Root => out.push('$'),
            Path::Member(parent, name) => {
                parent.render(out);
                out.push('.');
                out.extend(name.chars().take(64));
            }
            Path::Index(parent, i) => {
                parent.render(out);
                out.push_str(&format!("[{i}]"));
            }
        }
    }
}

/// The properties whose values are objects that must specify their `type`, and whether an
/// `id` is required too.
const TYPED_OBJECTS: &[(&str, bool)] = &[
    ("credentialStatus", false),
    ("credentialSchema", true),
    ("evidence", false),
    ("termsOfUse", false),
    ("refreshService", false),
    ("proof", false),
];

#[derive(Default)]
struct Checker {
    found: Vec<Violation>,
    dropped: bool,
}

impl Checker {
    fn push(&mut self, path: &Path<'_>, rule: Rule) {
        if self.found.len() >= MAX_VIOLATIONS {
            self.dropped = true;
            return;
        }
        let mut p = String::new();
        path.render(&mut p);
        self.found.push(Violation { path: p, rule });
    }

    fn finish(mut self) -> Vec<Violation> {
        if self.dropped {
            self.found.push(Violation {
                path: "$".to_owned(),
                rule: Rule::TooManyViolations {
                    limit: MAX_VIOLATIONS,
                },
            });
        }
        self.found
    }

    fn credential(&mut self, document: &Value, path: &Path<'_>) {
        let Some(object) = document.as_object() else {
            return self.push(path, Rule::NotAnObject);
        };
        self.contexts(object, path);
        self.types(object, path, "VerifiableCredential");
        match object.get("issuer") {
            None => self.push(path, Rule::IssuerMissing),
            Some(issuer) => self.issuer(issuer, &Path::Member(path, "issuer")),
        }
        self.subjects(object, path);
        self.validity(object, path);
        self.common(object, path);
    }

    fn presentation(&mut self, document: &Value, path: &Path<'_>) {
        let Some(object) = document.as_object() else {
            return self.push(path, Rule::NotAnObject);
        };
        self.contexts(object, path);
        let types = object.get("type").map(type_names).unwrap_or_default();
        if types.contains(&"EnvelopedVerifiablePresentation") {
            return self.envelope(object, path, "EnvelopedVerifiablePresentation");
        }
        self.types(object, path, "VerifiablePresentation");
        if let Some(holder) = object.get("holder") {
            let holder_path = Path::Member(path, "holder");
            if !id_or_object_with_id(holder) {
                self.push(&holder_path, Rule::HolderInvalid);
            }
        }
        if let Some(vcs) = object.get("verifiableCredential") {
            let vcs_path = Path::Member(path, "verifiableCredential");
            let property = "verifiableCredential";
            for (i, vc) in items_of(vcs, &vcs_path, property, self) {
                match i {
                    Some(i) => self.embedded_credential(vc, &Path::Index(&vcs_path, i)),
                    None => self.embedded_credential(vc, &vcs_path),
                }
            }
        }
        self.common(object, path);
    }

    /// Rules shared by credentials and presentations: names, typed objects, related
    /// resources, and the `id` / `type` of every object.
    fn common(&mut self, object: &Map<String, Value>, path: &Path<'_>) {
        for property in ["name", "description"] {
            if let Some(v) = object.get(property) {
                self.language_value(v, &Path::Member(path, property));
            }
        }
        for (property, needs_id) in TYPED_OBJECTS {
            if let Some(v) = object.get(*property) {
                self.typed_objects(v, &Path::Member(path, property), property, *needs_id);
            }
        }
        if let Some(v) = object.get("relatedResource") {
            self.related_resources(v, &Path::Member(path, "relatedResource"));
        }
        self.walk(object, path, 0);
    }

    fn embedded_credential(&mut self, vc: &Value, path: &Path<'_>) {
        let Some(object) = vc.as_object() else {
            return self.push(path, Rule::VerifiableCredentialNotObject);
        };
        let types = object.get("type").map(type_names).unwrap_or_default();
        let enveloped = types.contains(&"EnvelopedVerifiableCredential")
            || (object
                .get("id")
                .and_then(Value::as_str)
                .is_some_and(is_data_url)
                && !object.contains_key("credentialSubject"));
        if enveloped {
            self.contexts(object, path);
            self.envelope(object, path, "EnvelopedVerifiableCredential");
        } else {
            self.credential(vc, path);
        }
    }

    fn envelope(&mut self, object: &Map<String, Value>, path: &Path<'_>, ty: &'static str) {
        if !object
            .get("id")
            .and_then(Value::as_str)
            .is_some_and(is_data_url)
        {
            self.push(
                &Path::Member(path, "id"),
                Rule::EnvelopeInvalid {
                    reason: "id must be a data: url",
                },
            );
        }
        let types = object.get("type").map(type_names).unwrap_or_default();
        if !types.contains(&ty) {
            self.push(
                &Path::Member(path, "type"),
                Rule::TypeLacks { expected: ty },
            );
        }
    }

    fn contexts(&mut self, object: &Map<String, Value>, path: &Path<'_>) {
        let context_path = Path::Member(path, "@context");
        let items: &[Value] = match object.get("@context") {
            None => return self.push(path, Rule::ContextMissing),
            Some(Value::Array(items)) => items,
            Some(single) => std::slice::from_ref(single),
        };
        match items.first() {
            Some(Value::String(s)) if s == VC_V2_CONTEXT => {}
            first => {
                let found = match first {
                    None => "nothing".to_owned(),
                    Some(Value::String(s)) => truncate(s),
                    Some(Value::Object(_)) => "an object".to_owned(),
                    Some(_) => "another json value".to_owned(),
                };
                self.push(&context_path, Rule::ContextFirstNotV2 { found });
            }
        }
        let mut terms = ContextTerms::default();
        for (i, item) in items.iter().enumerate() {
            let item_path = Path::Index(&context_path, i);
            match item {
                Value::String(s) if is_url(s) => terms.named(s),
                Value::Object(definitions) => {
                    self.inline_context(definitions, &item_path, &mut terms)
                }
                _ => self.push(&item_path, Rule::ContextEntryInvalid),
            }
        }
        if terms.vocab_off && !terms.unknown_url {
            for (i, t) in object
                .get("type")
                .map(type_names)
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                if !is_url(t) && !terms.defines(t) {
                    let type_path = Path::Member(path, "type");
                    let term = truncate(t);
                    self.push(&Path::Index(&type_path, i), Rule::TypeUnmapped { term });
                }
            }
        }
    }

    fn inline_context(
        &mut self,
        definitions: &Map<String, Value>,
        path: &Path<'_>,
        terms: &mut ContextTerms,
    ) {
        let protects = definitions.get("@protected") == Some(&Value::Bool(true));
        for (term, definition) in definitions {
            if term == "@vocab" {
                terms.vocab_off |= !definition.as_str().is_some_and(is_url);
                continue;
            }
            if term.starts_with('@') {
                continue;
            }
            if terms.protects(term, definition) {
                let term = truncate(term);
                self.push(path, Rule::ProtectedTermRedefined { term });
            }
            let iri = match definition {
                Value::Object(d) => d.get("@id"),
                other => Some(other),
            };
            let maps_to_iri = match iri {
                None | Some(Value::Null) => true,
                Some(Value::String(s)) => s.starts_with('@') || is_url(s) || is_term(s),
                Some(_) => false,
            };
            if !maps_to_iri {
                let term = truncate(term);
                self.push(path, Rule::ContextTermNotIri { term });
            }
            terms
                .inline
                .push((term.clone(), definition.clone(), protects));
        }
    }

    fn types(&mut self, object: &Map<String, Value>, path: &Path<'_>, expected: &'static str) {
        match object.get("type") {
            None => self.push(path, Rule::TypeMissing),
            // Malformed values are reported by the walk.
            Some(t) if !type_names(t).contains(&expected) && is_type_value(t) => {
                self.push(&Path::Member(path, "type"), Rule::TypeLacks { expected });
            }
            Some(_) => {}
        }
    }

    fn issuer(&mut self, issuer: &Value, path: &Path<'_>) {
        if !id_or_object_with_id(issuer) {
            return self.push(path, Rule::IssuerInvalid);
        }
        if let Value::Object(o) = issuer {
            for property in ["name", "description"] {
                if let Some(v) = o.get(property) {
                    self.language_value(v, &Path::Member(path, property));
                }
            }
        }
    }

    fn subjects(&mut self, object: &Map<String, Value>, path: &Path<'_>) {
        let subject_path = Path::Member(path, "credentialSubject");
        match object.get("credentialSubject") {
            None => self.push(path, Rule::SubjectMissing),
            Some(Value::Object(o)) if o.is_empty() => self.push(&subject_path, Rule::SubjectEmpty),
            Some(Value::Object(_)) => {}
            Some(Value::Array(items)) if !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::Object(o) if !o.is_empty() => {}
                        Value::Object(_) => {
                            self.push(&Path::Index(&subject_path, i), Rule::SubjectEmpty);
                        }
                        _ => self.push(&Path::Index(&subject_path, i), Rule::SubjectInvalid),
                    }
                }
            }
            Some(_) => self.push(&subject_path, Rule::SubjectInvalid),
        }
    }

    fn validity(&mut self, object: &Map<String, Value>, path: &Path<'_>) {
        let mut stamp = |property: &'static str| -> Option<Timestamp> {
            let value = object.get(property)?;
            let parsed = value.as_str().and_then(|s| s.parse::<Timestamp>().ok());
            if parsed.is_none() {
                self.push(
                    &Path::Member(path, property),
                    Rule::DateTimeStampInvalid { property },
                );
            }
            parsed
        };
        let (from, until) = (stamp("validFrom"), stamp("validUntil"));
        if let (Some(valid_from), Some(valid_until)) = (from, until) {
            if valid_from > valid_until {
                let rule = Rule::ValidityInverted {
                    valid_from,
                    valid_until,
                };
                self.push(&Path::Member(path, "validFrom"), rule);
            }
        }
    }

    /// Calls `f` on each object of a property that takes one object or a non-empty array of
    /// them; anything else is reported.
    fn each_object<'v>(
        &mut self,
        value: &'v Value,
        path: &Path<'_>,
        property: &'static str,
        mut f: impl FnMut(&mut Self, &Path<'_>, &'v Map<String, Value>),
    ) {
        for (i, item) in items_of(value, path, property, self) {
            let index_path;
            let item_path = match i {
                Some(i) => {
                    index_path = Path::Index(path, i);
                    &index_path
                }
                None => path,
            };
            match item {
                Value::Object(o) => f(self, item_path, o),
                _ => self.push(item_path, Rule::NotObjects { property }),
            }
        }
    }

    fn typed_objects(
        &mut self,
        value: &Value,
        path: &Path<'_>,
        property: &'static str,
        needs_id: bool,
    ) {
        self.each_object(value, path, property, |c, item_path, o| {
            if !o.contains_key("type") {
                c.push(item_path, Rule::TypeRequired { property });
            }
            if needs_id && !o.contains_key("id") {
                c.push(item_path, Rule::IdRequired { property });
            }
        });
    }

    fn related_resources(&mut self, value: &Value, path: &Path<'_>) {
        let property = "relatedResource";
        let mut seen: HashSet<&str> = HashSet::new();
        self.each_object(value, path, property, |c, item_path, o| {
            match o.get("id").and_then(Value::as_str) {
                None => c.push(item_path, Rule::IdRequired { property }),
                Some(id) if !seen.insert(id) => c.push(item_path, Rule::RelatedResourceRepeated),
                Some(_) => {}
            }
            let sri = o.get("digestSRI").map(|v| v.as_str().is_some_and(is_sri));
            let multibase = o
                .get("digestMultibase")
                .map(|v| v.as_str().is_some_and(is_multibase));
            let ok = match (sri, multibase) {
                (None, None) => false,
                (s, m) => s.unwrap_or(true) && m.unwrap_or(true),
            };
            if !ok {
                c.push(item_path, Rule::DigestInvalid);
            }
        });
    }

    fn language_value(&mut self, value: &Value, path: &Path<'_>) {
        match value {
            Value::String(_) => {}
            Value::Object(o) => {
                if let Some(reason) = language_object_fault(o) {
                    self.push(path, Rule::LanguageValueInvalid { reason });
                }
            }
            Value::Array(items) if !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    if item.is_array() {
                        let reason = "nested array".to_owned();
                        self.push(&Path::Index(path, i), Rule::LanguageValueInvalid { reason });
                    } else {
                        self.language_value(item, &Path::Index(path, i));
                    }
                }
            }
            _ => {
                let reason = "not a string, object or non-empty array".to_owned();
                self.push(path, Rule::LanguageValueInvalid { reason });
            }
        }
    }

    /// Every `id` is a single URL and every `type` a string or strings (the VC 2.0 context
    /// aliases them to `@id` and `@type` everywhere), in every object but `@context`s.
    fn walk(&mut self, object: &Map<String, Value>, path: &Path<'_>, depth: usize) {
        if depth > MAX_DEPTH {
            return self.push(path, Rule::TooDeep);
        }
        for (key, value) in object {
            let member = Path::Member(path, key);
            match key.as_str() {
                "@context" => continue,
                "id" if !value.as_str().is_some_and(is_url) => self.push(&member, Rule::IdNotUrl),
                "type" if !is_type_value(value) => self.push(&member, Rule::TypeNotString),
                // Embedded credentials are walked when they are checked as credentials.
                "verifiableCredential" if depth == 0 => continue,
                _ => {}
            }
            self.walk_value(value, &member, depth + 1);
        }
    }

    fn walk_value(&mut self, value: &Value, path: &Path<'_>, depth: usize) {
        match value {
            Value::Object(o) => self.walk(o, path, depth),
            Value::Array(items) => {
                if depth > MAX_DEPTH {
                    return self.push(path, Rule::TooDeep);
                }
                for (i, item) in items.iter().enumerate() {
                    self.walk_value(item, &Path::Index(path, i), depth + 1);
                }
            }
            _ => {}
        }
    }
}

/// What the contexts seen so far define and protect.
#[derive(Default)]
struct ContextTerms {
    kya: bool,
    unknown_url: bool,
    vocab_off: bool,
    inline: Vec<(String, Value, bool)>,
}

impl ContextTerms {
    fn named(&mut self, url: &str) {
        if url == crate::credential::KYA_V1_CONTEXT {
            self.kya = true;
        } else if url != VC_V2_CONTEXT {
            self.unknown_url = true;
        }
    }

    /// Whether defining `term` as `definition` redefines a protected term: every term of the
    /// VC 2.0 and kya contexts, and an earlier inline context's protected terms (unless the
    /// definition is the same, as JSON-LD allows).
    fn protects(&self, term: &str, definition: &Value) -> bool {
        VC_V2_TERMS.contains(&term)
            || (self.kya && crate::credential::KYA_V1_TERMS.contains(&term))
            || self
                .inline
                .iter()
                .any(|(t, d, protected)| *protected && t == term && d != definition)
    }

    fn defines(&self, term: &str) -> bool {
        VC_V2_TERMS.contains(&term)
            || (self.kya && crate::credential::KYA_V1_TERMS.contains(&term))
            || self.inline.iter().any(|(t, ..)| t == term)
    }
}

/// Why a language value object is not one (VC DM 2.0 §4.6, §11.1), if it is not.
fn language_object_fault(o: &Map<String, Value>) -> Option<String> {
    if !o.get("@value").is_some_and(Value::is_string) {
        return Some("@value must be a string".to_owned());
    }
    if let Some(extra) = o
        .keys()
        .find(|k| !matches!(k.as_str(), "@value" | "@language" | "@direction"))
    {
        return Some(format!("unexpected member `{}`", truncate(extra)));
    }
    if let Some(language) = o.get("@language") {
        if !language.as_str().is_some_and(is_language_tag) {
            return Some("@language must be a bcp47 language tag".to_owned());
        }
    }
    if let Some(direction) = o.get("@direction") {
        if !matches!(direction.as_str(), Some("ltr" | "rtl")) {
            return Some("@direction must be ltr or rtl".to_owned());
        }
    }
    None
}

/// The shape of a BCP 47 tag: a 2–8 letter primary subtag, then 1–8 alphanumeric subtags.
fn is_language_tag(s: &str) -> bool {
    let mut parts = s.split('-');
    let primary_ok = parts
        .next()
        .is_some_and(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    primary_ok
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// `sha256-`, `sha384-` or `sha512-` and base64 (Subresource Integrity).
fn is_sri(s: &str) -> bool {
    s.split_once('-').is_some_and(|(alg, b64)| {
        matches!(alg, "sha256" | "sha384" | "sha512")
            && !b64.is_empty()
            && b64
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
    })
}

/// A multibase string: a base prefix kya knows the alphabet of, then that alphabet.
fn is_multibase(s: &str) -> bool {
    multibase::decode(s).is_ok_and(|(_, bytes)| !bytes.is_empty())
}

fn is_data_url(s: &str) -> bool {
    s.starts_with("data:") && s.contains(',')
}

/// A term (or a name relative to the vocabulary): no colon, no white space.
fn is_term(s: &str) -> bool {
    !s.is_empty() && !s.contains(':') && !s.chars().any(char::is_whitespace)
}

fn is_type_value(v: &Value) -> bool {
    match v {
        Value::String(_) => true,
        Value::Array(items) => !items.is_empty() && items.iter().all(Value::is_string),
        _ => false,
    }
}

fn type_names(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn id_or_object_with_id(v: &Value) -> bool {
    match v {
        Value::String(s) => is_url(s),
        Value::Object(o) => o.get("id").and_then(Value::as_str).is_some_and(is_url),
        _ => false,
    }
}

/// The items of a property that takes one value or a non-empty array: `(None, v)` for a
/// single value, `(Some(i), v)` for an array's items. An empty array is reported.
fn items_of<'v>(
    v: &'v Value,
    path: &Path<'_>,
    property: &'static str,
    checker: &mut Checker,
) -> Vec<(Option<usize>, &'v Value)> {
    match v {
        Value::Array(items) if items.is_empty() => {
            checker.push(path, Rule::NotObjects { property });
            Vec::new()
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (Some(i), v))
            .collect(),
        single => vec![(None, single)],
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::no_space_or_control;

    proptest! {
        /// The bytewise ASCII path answers as the per-character rule does, on any text.
        #[test]
        fn the_ascii_fast_path_is_the_char_rule(s in "\\PC{0,40}|[\\x00-\\x7f]{0,40}|.{0,40}") {
            let by_char = !s.chars().any(|c| c.is_whitespace() || c.is_control());
            prop_assert_eq!(no_space_or_control(&s), by_char);
        }
    }
}
