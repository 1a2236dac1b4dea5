//! Structured-field dictionaries (RFC 9651) read by sfv's parser into values that borrow
//! from the header text: `Signature-Input`, `Signature`, `Signature-Agent` and
//! `Content-Digest` are read on every request, and sfv's owned model spends an allocation on
//! every key, string and parameter map.
//!
//! The semantics are sfv's own (`tests` below hold them to `sfv::Parser::parse_dictionary`):
//! members and parameters keep the position of their first occurrence, and a repeated name
//! takes the last value. Unlike the owned model, the counts are bounded (a repeated name is
//! found by a linear search): more than [`MAX_MEMBERS`] members or inner-list items, or more
//! than [`MAX_PARAMS`] parameters on one item or list, is refused.

use std::fmt;

use sfv::visitor::{
    DictionaryVisitor, EntryVisitor, InnerListVisitor, ItemVisitor, ParameterVisitor,
};
use sfv::{BareItemFromInput, KeyRef};

/// The most members a dictionary, or items an inner list, may have.
pub(crate) const MAX_MEMBERS: usize = 64;
/// The most parameters one item or inner list may have.
pub(crate) const MAX_PARAMS: usize = 32;

/// A bare item borrowing from the header text (strings without escapes, tokens).
pub(crate) type Bare<'h> = BareItemFromInput<'h>;

/// Parameters in order of first occurrence.
#[derive(Debug, Default)]
pub(crate) struct Params<'h>(Vec<(&'h KeyRef, Bare<'h>)>);

impl<'h> Params<'h> {
    /// The value of parameter `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&Bare<'h>> {
        position(&self.0, name).map(|at| &self.0[at].1)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The parameters, in order, as sfv's serializers take them.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&'h KeyRef, &Bare<'h>)> {
        self.0.iter().map(|(k, v)| (*k, v))
    }
}

/// An item: a bare item and its parameters.
#[derive(Debug)]
pub(crate) struct Item<'h> {
    pub(crate) bare: Bare<'h>,
    pub(crate) params: Params<'h>,
}

/// An inner list: items and the list's parameters.
#[derive(Debug, Default)]
pub(crate) struct InnerList<'h> {
    pub(crate) items: Vec<Item<'h>>,
    pub(crate) params: Params<'h>,
}

/// A dictionary member's value.
#[derive(Debug)]
pub(crate) enum Entry<'h> {
    Item(Item<'h>),
    InnerList(InnerList<'h>),
}

/// A dictionary, members in order of first occurrence.
#[derive(Debug, Default)]
pub(crate) struct Dictionary<'h>(Vec<(&'h KeyRef, Entry<'h>)>);

impl<'h> Dictionary<'h> {
    /// Parses `text` as a dictionary.
    pub(crate) fn parse(text: &'h str) -> Result<Self, sfv::Error> {
        let mut dictionary = Self::default();
        sfv::Parser::new(text).parse_dictionary_with_visitor(&mut dictionary)?;
        Ok(dictionary)
    }

    /// The members in order.
    pub(crate) fn members(&self) -> impl Iterator<Item = (&'h KeyRef, &Entry<'h>)> {
        self.0.iter().map(|(k, v)| (*k, v))
    }

    /// The value of member `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&Entry<'h>> {
        position(&self.0, name).map(|at| &self.0[at].1)
    }

    /// Takes the value of member `name` out.
    pub(crate) fn take(&mut self, name: &str) -> Option<Entry<'h>> {
        position(&self.0, name).map(|at| self.0.swap_remove(at).1)
    }
}

/// Writes `item` as RFC 9651 serializes it.
pub(crate) fn write_item(item: &Item<'_>, out: &mut String) {
    write_bare(&item.bare, out);
    write_params(&item.params, out);
}

/// Writes `list` as RFC 9651 serializes an inner list (as the only member of a List).
pub(crate) fn write_inner_list(list: &InnerList<'_>, out: &mut String) {
    out.push('(');
    for (i, item) in list.items.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_item(item, out);
    }
    out.push(')');
    write_params(&list.params, out);
}

/// `;name=value` per parameter, `;name` for a true one (RFC 9651 §4.1.1.2).
fn write_params(params: &Params<'_>, out: &mut String) {
    for (key, value) in params.iter() {
        out.push(';');
        out.push_str(key.as_str());
        if !matches!(value, Bare::Boolean(true)) {
            out.push('=');
            write_bare(value, out);
        }
    }
}

/// Strings without a quote or backslash to escape, tokens and integers (all a signature's
/// components and parameters hold) are written here, with no check: they were parsed, so
/// they are valid. Every other bare item goes through sfv's serializer.
fn write_bare(bare: &Bare<'_>, out: &mut String) {
    match bare {
        Bare::String(s) if !s.as_str().bytes().any(|b| b == b'"' || b == b'\\') => {
            out.push('"');
            out.push_str(s.as_str());
            out.push('"');
        }
        Bare::Token(t) => out.push_str(t.as_str()),
        Bare::Integer(i) => {
            let _ = fmt::Write::write_fmt(out, format_args!("{}", i64::from(*i)));
        }
        other => {
            let _ = sfv::ItemSerializer::with_buffer(out).bare_item(other);
        }
    }
}

/// A bound was exceeded.
#[derive(Debug)]
pub(crate) struct TooMany(&'static str);

impl fmt::Display for TooMany {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for TooMany {}

/// Where the member or parameter named `name` is (names are unique: see [`upsert`]).
fn position<V>(members: &[(&KeyRef, V)], name: &str) -> Option<usize> {
    members.iter().position(|(k, _)| k.as_str() == name)
}

/// Puts `value` at `key`'s first position, or last when new; `None` when that would make
/// more than `max`.
fn upsert<'m, 'h, V>(
    members: &'m mut Vec<(&'h KeyRef, V)>,
    key: &'h KeyRef,
    value: V,
    max: usize,
) -> Option<&'m mut V> {
    match position(members, key.as_str()) {
        Some(at) => {
            let slot = &mut members[at].1;
            *slot = value;
            Some(slot)
        }
        None if members.len() < max => {
            members.push((key, value));
            members.last_mut().map(|(_, v)| v)
        }
        None => None,
    }
}

impl<'h> ParameterVisitor<'h> for &mut Params<'h> {
    type Error = TooMany;

    fn parameter(&mut self, key: &'h KeyRef, value: Bare<'h>) -> Result<(), TooMany> {
        upsert(&mut self.0, key, value, MAX_PARAMS)
            .map(|_| ())
            .ok_or(TooMany("too many parameters"))
    }
}

impl<'h> ItemVisitor<'h> for &mut InnerList<'h> {
    type Error = TooMany;

    fn bare_item(self, bare: Bare<'h>) -> Result<impl ParameterVisitor<'h>, TooMany> {
        if self.items.len() == MAX_MEMBERS {
            return Err(TooMany("too many inner-list items"));
        }
        self.items.push(Item {
            bare,
            params: Params::default(),
        });
        match self.items.last_mut() {
            Some(item) => Ok(&mut item.params),
            None => Err(TooMany("unreachable: an item was just pushed")),
        }
    }
}

impl<'h> InnerListVisitor<'h> for &mut InnerList<'h> {
    type Error = TooMany;

    fn item(&mut self) -> Result<impl ItemVisitor<'h>, TooMany> {
        Ok(&mut **self)
    }

    fn finish(self) -> Result<impl ParameterVisitor<'h>, TooMany> {
        Ok(&mut self.params)
    }
}

/// The member being read: where its value goes.
pub(crate) struct Member<'a, 'h> {
    members: &'a mut Vec<(&'h KeyRef, Entry<'h>)>,
    key: &'h KeyRef,
}

impl<'a, 'h> Member<'a, 'h> {
    fn put(self, entry: Entry<'h>) -> Result<&'a mut Entry<'h>, TooMany> {
        upsert(self.members, self.key, entry, MAX_MEMBERS)
            .ok_or(TooMany("too many dictionary members"))
    }
}

impl<'h> ItemVisitor<'h> for Member<'_, 'h> {
    type Error = TooMany;

    fn bare_item(self, bare: Bare<'h>) -> Result<impl ParameterVisitor<'h>, TooMany> {
        let item = Item {
            bare,
            params: Params::default(),
        };
        match self.put(Entry::Item(item))? {
            Entry::Item(item) => Ok(&mut item.params),
            Entry::InnerList(_) => Err(TooMany("unreachable: an item was just put")),
        }
    }
}

impl<'h> EntryVisitor<'h> for Member<'_, 'h> {
    fn inner_list(self) -> Result<impl InnerListVisitor<'h>, TooMany> {
        match self.put(Entry::InnerList(InnerList::default()))? {
            Entry::InnerList(list) => Ok(list),
            Entry::Item(_) => Err(TooMany("unreachable: a list was just put")),
        }
    }
}

impl<'h> DictionaryVisitor<'h> for Dictionary<'h> {
    type Error = TooMany;

    fn entry(&mut self, key: &'h KeyRef) -> Result<impl EntryVisitor<'h>, TooMany> {
        Ok(Member {
            members: &mut self.0,
            key,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;
    use sfv::SerializeValue as _;

    use super::*;

    /// Ours serialized member by member, as sfv serializes its owned dictionary.
    fn serialize(dictionary: &Dictionary<'_>) -> String {
        let mut out = String::new();
        for (i, (key, entry)) in dictionary.members().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(key.as_str());
            match entry {
                Entry::Item(Item {
                    bare: sfv::GenericBareItem::Boolean(true),
                    params,
                }) => {
                    let mut p = String::new();
                    // `key;params` for a true item, as RFC 9651 writes it.
                    let _ = sfv::ItemSerializer::with_buffer(&mut p)
                        .bare_item(true)
                        .parameters(params.iter());
                    out.push_str(&p["?1".len()..]);
                }
                Entry::Item(item) => {
                    out.push('=');
                    write_item(item, &mut out);
                }
                Entry::InnerList(list) => {
                    out.push('=');
                    write_inner_list(list, &mut out);
                }
            }
        }
        out
    }

    fn same_as_sfv(text: &str) -> Result<(), TestCaseError> {
        let theirs = sfv::Parser::new(text).parse_dictionary();
        let ours = Dictionary::parse(text);
        match (theirs, ours) {
            (Ok(theirs), Ok(ours)) => {
                prop_assert_eq!(
                    theirs.serialize_value().unwrap_or_default(),
                    serialize(&ours)
                );
            }
            (Err(_), Err(_)) => {}
            (theirs, ours) => {
                prop_assert!(false, "{text:?}: sfv {theirs:?}, ours {ours:?}");
            }
        }
        Ok(())
    }

    #[test]
    fn web_bot_auth_fields_read_as_sfv_reads_them() {
        for text in [
            r#"sig1=("@method" "@authority" "@path" "content-digest" "signature-agent";key="a");created=1767225600;expires=1767225660;keyid="k";nonce="n";tag="web-bot-auth";alg="ed25519""#,
            "sig1=:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==:",
            "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:, md5=:AA==:",
            r#"a="https://x.example/", b=(1 2);q, a=?0, c, d;x=1.5;y=tok, e=@1700000000, f=%"caf%c3%a9""#,
            r#"a="\"q\\", a="again""#,
            r#"a=tok, b=(tok "s";p=tok 7;n=-3);q=*t/x:y;r, c=-12;k=?0"#,
            "",
            "a=(), b=();p",
        ] {
            same_as_sfv(text).unwrap();
        }
        for broken in ["a=", "A=1", "a=1,", "a=(1", "a=\"x", "a=1 b=2", "a=:!!:"] {
            assert!(Dictionary::parse(broken).is_err(), "{broken}");
        }
    }

    #[test]
    fn counts_are_bounded() {
        let members: Vec<String> = (0..=MAX_MEMBERS).map(|i| format!("k{i}=1")).collect();
        assert!(Dictionary::parse(&members[..MAX_MEMBERS].join(", ")).is_ok());
        assert!(Dictionary::parse(&members.join(", ")).is_err());
        let params: String = (0..=MAX_PARAMS).map(|i| format!(";p{i}")).collect();
        let at_bound = &params[..params.rfind(';').unwrap()];
        assert!(Dictionary::parse(&format!("a=1{at_bound}")).is_ok());
        assert!(Dictionary::parse(&format!("a=1{params}")).is_err());
        assert!(Dictionary::parse(&format!("a=(){params}")).is_err());
        let items = "1 ".repeat(MAX_MEMBERS + 1);
        assert!(Dictionary::parse(&format!("a=({})", "1 ".repeat(MAX_MEMBERS).trim())).is_ok());
        assert!(Dictionary::parse(&format!("a=({})", items.trim())).is_err());
        // Repeated names replace in place and count once.
        let repeated = "a=1, ".repeat(MAX_MEMBERS * 2);
        assert!(Dictionary::parse(repeated.trim_end_matches(", ")).is_ok());
    }

    /// A bare item as RFC 9651 writes it, of every type.
    fn bare_text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<i64>().prop_map(|i| (i % 1_000_000_000_000_000).to_string()),
            (-999_999_999_999i64..1_000_000_000_000, 0u32..1000)
                .prop_map(|(i, f)| format!("{i}.{f:03}")),
            "[ !#-\\[\\]-~]{0,12}".prop_map(|s| format!("\"{s}\"")),
            "[ -~]{0,12}".prop_map(|s| {
                let escaped = s.replace('\\', "\\\\").replace('"', "\\\"");
                format!("\"{escaped}\"")
            }),
            "[a-zA-Z*][a-zA-Z0-9:/!#$%&'*+.^_`|~-]{0,10}",
            prop::bool::ANY.prop_map(|b| if b { "?1" } else { "?0" }.to_owned()),
            prop::collection::vec(any::<u8>(), 0..12).prop_map(|b| {
                use base64::Engine as _;
                format!(":{}:", base64::engine::general_purpose::STANDARD.encode(b))
            }),
            (-99_999i64..99_999).prop_map(|d| format!("@{d}")),
            "[a-z %]{0,8}".prop_map(|s| format!("%\"{}\"", s.replace('%', "%25"))),
        ]
    }

    /// `;key=value` parameters (a true one as `;key`).
    fn params_text() -> impl Strategy<Value = String> {
        prop::collection::vec(("[a-z*][a-z0-9_.*-]{0,4}", bare_text()), 0..4).prop_map(|ps| {
            ps.into_iter()
                .map(|(k, v)| {
                    if v == "?1" {
                        format!(";{k}")
                    } else {
                        format!(";{k}={v}")
                    }
                })
                .collect()
        })
    }

    /// A valid dictionary of items and inner lists, each with parameters.
    fn dictionary_text() -> impl Strategy<Value = String> {
        let item = || (bare_text(), params_text()).prop_map(|(b, p)| format!("{b}{p}"));
        let inner = (prop::collection::vec(item(), 0..4), params_text())
            .prop_map(|(items, p)| format!("({}){p}", items.join(" ")));
        let value = prop_oneof![item(), inner];
        prop::collection::vec(("[a-z*][a-z0-9_.*-]{0,4}", value), 0..5).prop_map(|ms| {
            ms.into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
    }

    proptest! {
        /// Any text made of the grammar's pieces reads as sfv reads it (or fails as it does).
        #[test]
        fn any_dictionary_reads_as_sfv_reads_it(
            text in proptest::collection::vec(
                prop_oneof![
                    Just("a"), Just("b"), Just("k-1"), Just("*x"), Just("="), Just(", "),
                    Just(","), Just(" "), Just(";"), Just("("), Just(")"), Just("1"),
                    Just("-2.5"), Just("\"s\""), Just("\"e\\\"\""), Just("tok"), Just("?1"),
                    Just("?0"), Just(":AQID:"), Just("@5"), Just("%\"%41\""), Just("A"),
                ],
                0..24,
            ).prop_map(|parts| parts.concat())
        ) {
            same_as_sfv(&text)?;
        }

        /// Any valid dictionary reads, and is written back, as sfv reads and writes it.
        #[test]
        fn any_valid_dictionary_is_written_as_sfv_writes_it(text in dictionary_text()) {
            prop_assert!(Dictionary::parse(&text).is_ok(), "{text}");
            same_as_sfv(&text)?;
        }
    }
}
