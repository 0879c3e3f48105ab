//! The strings the `.properties` property tests generate, shared by the Rust and the JDK round trips.

use proptest::prelude::*;

/// Strings that stress the escapes: any Unicode, or the characters `.properties` gives meaning to.
pub fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ \t\n\r\x0c\\\\=:#!a-z\u{e9}\u{1f600}]{0,24}",
        "[ \t]{0,3}\\\\+[unrtf]?[0-9A-Fa-f]{0,4}",
    ]
}
