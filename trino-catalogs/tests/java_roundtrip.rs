//! Rendered catalogs read back exactly through the JDK's `java.util.Properties.load`, the loader Trino uses
//! (airlift `ConfigurationLoader.loadPropertiesFrom`). Needs `javac` and `java` on PATH: fails, never skips,
//! when they are missing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use trino_catalogs::properties::{read_properties, write_properties};
use trino_catalogs::spec::{GenericCatalog, JdbcCatalog};
use trino_catalogs::{CatalogSpec, SecretRef, render};

mod strategies;

/// Compiles PropsDump.java once into a temp dir and returns the class directory.
fn compile(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/java/PropsDump.java");
    let status = Command::new("javac")
        .arg("-d")
        .arg(dir)
        .arg(&src)
        .status()
        .expect("javac must be installed (JDK 17) for the properties round-trip test");
    assert!(status.success(), "javac failed on {}", src.display());
    dir.to_path_buf()
}

/// What the JDK reads from `text`, as a map.
fn java_load(classes: &Path, text: &str) -> BTreeMap<String, String> {
    java_load_mode(classes, text, "both")
}

/// `mode` "both": the ISO-8859-1 and UTF-8 readings must agree; "utf8-only": print the UTF-8 reading.
fn java_load_mode(classes: &Path, text: &str, mode: &str) -> BTreeMap<String, String> {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    let out = Command::new("java")
        .arg("-cp")
        .arg(classes)
        .arg("PropsDump")
        .arg(file.path())
        .arg(mode)
        .output()
        .expect("java must be installed (JDK 17)");
    assert!(
        out.status.success(),
        "PropsDump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let unhex = |h: &str| {
        let bytes: Vec<u8> = (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
            .collect();
        String::from_utf8(bytes).unwrap()
    };
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (k, v) = l.split_once('\t').unwrap_or((l, ""));
            (unhex(k), unhex(v))
        })
        .collect()
}

fn hostile() -> BTreeMap<String, String> {
    let pairs = [
        ("plain.key", "plain value"),
        ("key=with=equals", "value=with=equals"),
        ("key:with:colons", "value:with:colons ${ENV:NOT_A_SECRET}"),
        ("#hash.key", "#not a comment"),
        ("!bang.key", "!not a comment either"),
        ("back\\slash", "C:\\path\\to\\file\\"),
        (" leading.space.key", "   three leading spaces"),
        ("trailing.space.key ", "trailing spaces   "),
        ("tab\tkey", "\ttab first\tand inside"),
        ("new\nline", "line1\nline2\r\nline3\r"),
        ("form\x0cfeed", "\x0cff"),
        ("unicode.é.ключ", "café ünïcödé 日本語 emoji 😀 𝄞"),
        ("empty.value", ""),
        ("only.spaces", "   "),
        ("u.escape.lookalike", "\\u0041 is not A"),
        ("continuation.lookalike", "ends with backslash \\"),
        ("control", "\u{1}\u{7f}\u{a0}\u{feff}"),
        ("a", "b"),
    ];
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn hostile_keys_and_values_round_trip_through_the_jdk() {
    let dir = tempfile::tempdir().unwrap();
    let classes = compile(dir.path());
    let want = hostile();
    let text = write_properties(
        Some("hostile # header\nwith = two lines"),
        want.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    );
    assert!(
        text.is_ascii(),
        "rendered text must be ASCII so both encodings read it alike"
    );
    let from_java = java_load(&classes, &text);
    assert_eq!(
        from_java, want,
        "java.util.Properties.load disagrees with what was written:\n{text}"
    );
    // Our reader (used by `import`) agrees with the JDK on the same text...
    assert_eq!(read_properties(&text).unwrap(), from_java);

    // ...and on hand-written files in styles we never emit (continuations, ':' and ' ' separators, CRLF,
    // comments with backslashes, raw UTF-8).
    let handwritten = "# comment \\\n! other\r\n  spaced.key  =  spaced value  \nk2:v2\nk3 v3\n\
                       long = first \\\n      second \\\\\\\n   third\r\nraw.utf8=ünï\n\t\x0c k4 \t= = v\nlast\\\n";
    let from_java = java_load_mode(&classes, handwritten, "utf8-only");
    assert_eq!(from_java["raw.utf8"], "ünï");
    assert_eq!(from_java["long"], "first second \\third");
    assert_eq!(
        read_properties(handwritten).unwrap(),
        from_java,
        "reader disagrees with the JDK"
    );
}

/// Pairs generated the way `properties_fuzz.rs` generates them (a fixed seed, so a failure reproduces), all
/// in one file read by one JVM: every key carries its case number, so no case can hide another's pair.
#[test]
fn generated_keys_and_values_round_trip_through_the_jdk() {
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::TestRunner;

    let dir = tempfile::tempdir().unwrap();
    let classes = compile(dir.path());
    let pairs = proptest::collection::btree_map(
        strategies::hostile_text(),
        strategies::hostile_text(),
        0..6,
    );
    let mut runner = TestRunner::deterministic();
    let mut want = BTreeMap::new();
    for case in 0..500 {
        for (k, v) in pairs.new_tree(&mut runner).unwrap().current() {
            want.insert(format!("case{case}.{k}"), v);
        }
    }
    assert!(want.len() > 1000, "{} pairs", want.len());
    let text = write_properties(None, want.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    assert!(text.is_ascii());
    let got = java_load(&classes, &text);
    for (key, value) in &want {
        assert_eq!(got.get(key), Some(value), "key {key:?}");
    }
    assert_eq!(got.len(), want.len());
}

#[test]
fn rendered_catalogs_read_back_exactly_in_the_jdk() {
    let dir = tempfile::tempdir().unwrap();
    let classes = compile(dir.path());
    let hostile = hostile();
    let mysql = CatalogSpec::Mysql(JdbcCatalog {
        url: "jdbc:mysql://db.example:3306?sessionVariables=sql_mode='ANSI'".into(),
        user: "ro user=:#!\\é".into(),
        password: Some(SecretRef::Env("DB_PW".into())),
        properties: hostile.clone(),
    });
    let generic = CatalogSpec::Generic(GenericCatalog {
        connector_name: "elasticsearch".into(),
        properties: hostile.clone(),
        secret_properties: [(
            "elasticsearch.auth.password".to_owned(),
            SecretRef::Parameter("/x/y".into()),
        )]
        .into(),
    });
    for (name, spec) in [("orders", &mysql), ("search", &generic)] {
        let r = render(name, spec);
        let from_java = java_load(&classes, &r.text);
        let want: BTreeMap<String, String> = r.properties.iter().cloned().collect();
        assert_eq!(from_java, want, "{name}:\n{}", r.text);
        // Not only self-consistent: every hostile input pair reaches the JDK exactly as it was declared.
        for (k, v) in &hostile {
            assert_eq!(
                from_java.get(k).map(String::as_str),
                Some(v.as_str()),
                "{name}: input property {k:?} did not reach the JDK as declared:\n{}",
                r.text
            );
        }
        if let CatalogSpec::Mysql(j) = spec {
            assert_eq!(from_java["connection-url"], j.url);
            assert_eq!(from_java["connection-user"], j.user);
        }
        assert_eq!(from_java["connector.name"], spec.connector_name());
        for s in &r.secrets {
            assert_eq!(from_java[&s.property], format!("${{ENV:{}}}", s.env));
        }
    }
}
