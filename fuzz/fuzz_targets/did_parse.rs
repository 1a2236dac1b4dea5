//! DID parsing (`did:key`, `did:pkh`, verification method ids).
//!
//! Asserts: whatever parses prints back to a string that parses to the same DID; a
//! `did:key` has exactly one spelling (the input itself), so two strings never name the
//! same key; `Did` agrees with `DidKey`/`DidPkh`; a verification method id names its DID.
#![no_main]
use std::str::FromStr;

use kya_core::{Did, DidKey, DidPkh};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let did = Did::from_str(s);
    if let Ok(k) = DidKey::from_str(s) {
        assert_eq!(k.to_string(), s, "a did:key has a single spelling");
        assert_eq!(DidKey::from_str(&k.to_string()).ok(), Some(k));
        assert_eq!(did.as_ref().ok(), Some(&Did::Key(k)));
        let vm = k.verification_method_id();
        assert_eq!(DidKey::from_verification_method(&vm).ok(), Some(k));
        assert_eq!(
            kya_core::PublicKey::from_multibase(&s["did:key:".len()..]).ok(),
            Some(k.public_key())
        );
    }
    if let Ok(p) = DidPkh::from_str(s) {
        let shown = p.to_string();
        assert_eq!(DidPkh::from_str(&shown).ok(), Some(p));
        assert_eq!(
            shown.to_lowercase(),
            s.to_lowercase(),
            "only the address case may change"
        );
        assert_eq!(did.as_ref().ok(), Some(&Did::Pkh(p)));
    }
    if let Ok(d) = &did {
        assert_eq!(Did::from_str(&d.to_string()).as_ref().ok(), Some(d));
        assert!(DidKey::from_str(s).is_ok() || DidPkh::from_str(s).is_ok());
    }
    if let Ok(k) = DidKey::from_verification_method(s) {
        // A verification method id is `did#fragment` with the fragment naming the key.
        let (d, frag) = s
            .split_once('#')
            .expect("a verification method id has a fragment");
        assert_eq!(DidKey::from_str(d).ok(), Some(k));
        assert_eq!(frag, &d["did:key:".len()..]);
    }
});
