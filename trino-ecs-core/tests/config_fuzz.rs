//! Property tests of the lake config (run in CI with a fixed number of cases, so their time is bounded): any
//! text, and the shipped examples with a line deleted, duplicated, garbled or given another value of any
//! type, parse without a panic; every refusal is located in the file (a line that exists, the file's name);
//! and a config that parses builds its desired state (every rendered file) without a panic.

use std::path::Path;

use proptest::prelude::*;
use trino_ecs_core::config::{ConfigError, LakeConfig};
use trino_ecs_core::model::{self, DeployInputs};

fn example(name: &str) -> (std::path::PathBuf, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    (path, text)
}

/// TOML values of every type, the odd ones included.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        Just("99999999999999999999".to_owned()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        Just("nan".to_owned()),
        any::<bool>().prop_map(|b| b.to_string()),
        any::<String>().prop_map(|s| format!("{s:?}")),
        "\"[ -~]{0,12}\"",
        "\"\\$\\{ENV:[A-Z_]{1,8}\\}\"",
        "'[a-z/:.@ \\-]{0,16}'",
        Just("[]".to_owned()),
        Just("[1, \"a\"]".to_owned()),
        Just("{ env = \"X\" }".to_owned()),
        Just("{ parameter = \"/p\" }".to_owned()),
        Just("{}".to_owned()),
        Just("1979-05-27T07:32:00Z".to_owned()),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete,
    Duplicate,
    Value(String),
    Garbage(String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        Just(Mutation::Delete),
        Just(Mutation::Duplicate),
        toml_value().prop_map(Mutation::Value),
        prop_oneof![any::<String>(), "[\\[\\]a-z_.=\" ]{0,20}"].prop_map(Mutation::Garbage),
    ]
}

fn mutate(text: &str, edits: &[(usize, Mutation)]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for (at, edit) in edits {
        if lines.is_empty() {
            break;
        }
        let i = at % lines.len();
        match edit {
            Mutation::Delete => {
                lines.remove(i);
            }
            Mutation::Duplicate => {
                let line = lines[i].clone();
                lines.insert(i, line);
            }
            Mutation::Value(value) => {
                if let Some((key, _)) = lines[i].split_once('=') {
                    lines[i] = format!("{key}= {value}");
                }
            }
            Mutation::Garbage(garbage) => lines.insert(i, garbage.clone()),
        }
    }
    lines.join("\n")
}

/// Parses `text` as the file at `path`; a refusal must say where, and a config must build its desired state.
fn check(path: &Path, text: &str) -> Result<(), TestCaseError> {
    match LakeConfig::parse(path, text) {
        Ok(config) => {
            // Refusals are fine (no execution role, a missing variable); a panic is not.
            let _ = model::desired(&config, &DeployInputs::default());
        }
        Err(ConfigError::Invalid { issues }) => {
            prop_assert!(!issues.is_empty());
            let lines = text.lines().count().max(1);
            for issue in issues {
                prop_assert_eq!(&issue.file, path);
                prop_assert!(
                    issue.line <= lines + 1,
                    "{} (the text has {} lines)",
                    issue,
                    lines
                );
                prop_assert!(!issue.message.is_empty());
                prop_assert!(issue.to_string().starts_with(&path.display().to_string()));
            }
        }
        Err(other) => prop_assert!(false, "parse refuses only with located issues: {}", other),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 768, ..ProptestConfig::default() })]

    #[test]
    fn any_text_is_parsed_or_refused_with_a_location(text in prop_oneof![
        any::<String>(),
        "(\\[[a-z.]{0,12}\\]\n|[a-z_]{1,10} = [0-9\"a-z{}\\[\\]]{0,8}\n){0,8}",
    ]) {
        check(Path::new("fuzz.toml"), &text)?;
    }

    #[test]
    fn mutated_local_examples_are_parsed_or_refused_with_a_location(
        edits in proptest::collection::vec((any::<usize>(), mutation()), 1..4),
    ) {
        let (path, text) = example("local.toml");
        check(&path, &mutate(&text, &edits))?;
    }

    #[test]
    fn mutated_account_examples_are_parsed_or_refused_with_a_location(
        edits in proptest::collection::vec((any::<usize>(), mutation()), 1..4),
    ) {
        let (path, text) = example("lake.toml");
        check(&path, &mutate(&text, &edits))?;
    }
}

/// The mutations are worth their cases only if they reach both outcomes: configs that still parse (so
/// `desired` runs on odd but accepted values) and refusals.
#[test]
fn the_mutations_reach_both_accepted_and_refused_configs() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let (path, text) = example("local.toml");
    let edits = proptest::collection::vec((any::<usize>(), mutation()), 1..4);
    let mut runner = TestRunner::deterministic();
    let (mut accepted, mut built, mut refused) = (0, 0, 0);
    for _ in 0..400 {
        let edits = edits.new_tree(&mut runner).unwrap().current();
        match LakeConfig::parse(&path, &mutate(&text, &edits)) {
            Ok(config) => {
                accepted += 1;
                built += usize::from(model::desired(&config, &DeployInputs::default()).is_ok());
            }
            Err(_) => refused += 1,
        }
    }
    assert!(
        accepted >= 40 && built >= 40 && refused >= 40,
        "accepted {accepted}, built {built}, refused {refused}"
    );
}
