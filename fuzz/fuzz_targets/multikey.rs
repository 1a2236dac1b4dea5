//! Multikey parsing: public and secret `*Multibase` strings and key-file JSON.
//!
//! Asserts: accepted encodings are canonical (re-encoding gives the input back), accepted
//! public keys are never small-order, a key file's secret always matches its public key.
#![no_main]
use kya_core::{MultikeyFile, PublicKey, SecretKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(k) = PublicKey::from_multibase(s) {
            assert_eq!(k.to_multibase(), s, "one public key, one encoding");
            assert!(!k.as_dalek().is_weak());
            assert_eq!(PublicKey::from_bytes(&k.to_bytes()).ok(), Some(k));
        }
        if let Ok(sk) = SecretKey::from_multibase(s) {
            assert_eq!(
                sk.to_multibase().as_str(),
                s,
                "one secret key, one encoding"
            );
            let sig = sk.sign(b"kya");
            assert!(sk.public_key().verify(b"kya", &sig).is_ok());
        }
        if let Ok(raw) = <&[u8; 32]>::try_from(data) {
            if let Ok(k) = PublicKey::from_bytes(raw) {
                assert_eq!(&k.to_bytes(), raw);
            }
        }
    }
    if let Ok(file) = MultikeyFile::from_json(data) {
        if let Ok(sk) = file.secret_key() {
            assert_eq!(Some(sk.public_key()), file.public_key().ok());
        }
    }
});
