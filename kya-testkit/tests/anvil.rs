//! The launcher against the real anvil: it answers, and its temporary home goes with it.
#![allow(clippy::panic, missing_docs)]

use std::path::Path;

use kya_testkit::Anvil;

#[test]
fn each_node_has_its_own_home_removed_on_drop() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let a = Anvil::spawn(root, &[]).unwrap_or_else(|e| panic!("{e}"));
    let b = Anvil::spawn(root, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert!(a.endpoint().starts_with("http://"));
    assert_eq!(a.keys().len(), 10);
    assert_ne!(a.home(), b.home());
    let home = a.home().to_path_buf();
    assert!(home.is_dir());
    drop(a);
    assert!(!home.exists(), "{} left behind", home.display());
    assert!(b.home().is_dir());
}
