use std::path::Path;

use super::*;

const LOCAL: &str = include_str!("../../../examples/local.toml");
const LAKE: &str = include_str!("../../../examples/lake.toml");

fn issues(text: &str) -> Vec<ConfigIssue> {
    match LakeConfig::parse(Path::new("lake.toml"), text) {
        Ok(_) => panic!("expected an invalid config"),
        Err(ConfigError::Invalid { issues }) => issues,
        Err(other) => panic!("unexpected error {other}"),
    }
}

#[test]
fn examples_are_valid() {
    let local = LakeConfig::parse(Path::new("examples/local.toml"), LOCAL).unwrap();
    assert_eq!(local.cluster.name, "lake-local");
    assert_eq!(local.initial_workers(), 2);
    assert_eq!(local.environment(), "local");
    assert!(local.is_emulator());
    assert_eq!(local.catalogs.len(), 3);
    let lake = LakeConfig::parse(Path::new("examples/lake.toml"), LAKE).unwrap();
    assert!(!lake.is_emulator());
    assert_eq!(lake.aws.max_attempts, 8);
    assert_eq!(lake.catalogs.len(), 5);
    assert_eq!(
        lake.lifecycle_policy_path().unwrap(),
        Path::new("examples/lifecycle.json")
    );
    assert!(matches!(lake.catalogs["orders"], CatalogSpec::Mysql(_)));
}

#[test]
fn unknown_key_names_file_line_column_and_key() {
    let text = LOCAL.replace("assign_public_ip = true", "asign_public_ip = true");
    let found = issues(&text);
    assert_eq!(found.len(), 1);
    let line = text
        .lines()
        .position(|l| l.starts_with("asign_public_ip"))
        .unwrap()
        + 1;
    let issue = &found[0];
    assert_eq!((issue.line, issue.column), (line, 1), "{issue}");
    assert_eq!(issue.key, "cluster.asign_public_ip");
    assert!(
        issue.message.contains("unknown field `asign_public_ip`"),
        "{}",
        issue.message
    );
    assert!(
        issue
            .to_string()
            .starts_with(&format!("lake.toml:{line}:1: `cluster.asign_public_ip`: ")),
        "{issue}"
    );
}

#[test]
fn unknown_key_inside_a_catalog_points_at_the_key() {
    let text = LOCAL.replace("user = \"postgres\"", "usr = \"postgres\"");
    let found = issues(&text);
    let line = text.lines().position(|l| l.starts_with("usr =")).unwrap() + 1;
    assert_eq!(found[0].line, line, "{}", found[0]);
    assert!(found[0].message.contains("usr"), "{}", found[0]);
}

#[test]
fn wrong_type_is_located() {
    let text = LOCAL.replace("min = 1", "min = \"one\"");
    let found = issues(&text);
    let line = text
        .lines()
        .position(|l| l.starts_with("min = \"one\""))
        .unwrap()
        + 1;
    assert_eq!(found[0].line, line, "{}", found[0]);
    assert_eq!(found[0].key, "cluster.workers.min");
}

#[test]
fn worker_min_above_max_is_located_at_min() {
    let text = LOCAL
        .replace("min = 1", "min = 5")
        .replace("desired = 2\n", "");
    let found = issues(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    let line = text.lines().position(|l| l.starts_with("min = 5")).unwrap() + 1;
    assert_eq!((found[0].line, found[0].column), (line, 1));
    assert_eq!(found[0].key, "cluster.workers.min");
    assert_eq!(
        found[0].message,
        "worker min (5) must not exceed worker max (4)"
    );
}

#[test]
fn bad_catalog_name_and_many_issues_are_all_reported() {
    let text = LOCAL
        .replace("[catalogs.sales]", "[catalogs.Sales-DB]")
        .replace(
            "region = \"us-east-1\"\nendpoint",
            "region = \"mars\"\nendpoint",
        )
        .replace("image = \"trinodb/trino:480\"", "image = \"trinodb/trino\"")
        .replace("memory = 8192", "memory = 3000");
    let found = issues(&text);
    let keys: Vec<&str> = found.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "aws.region",
            "cluster.image",
            "cluster.workers.memory",
            "catalogs.Sales-DB"
        ]
    );
    let catalog = &found[3];
    assert_eq!(
        catalog.line,
        text.lines()
            .position(|l| l == "[catalogs.Sales-DB]")
            .unwrap()
            + 1
    );
    assert!(catalog.message.contains("[a-z][a-z0-9_]*"));
    assert!(
        found[2]
            .message
            .contains("4096..=16384 MiB in steps of 1024"),
        "{}",
        found[2]
    );
}

#[test]
fn fargate_sizes_follow_the_aws_table() {
    assert!(check_size(LaunchType::Fargate, 1024, 2048).is_none());
    assert!(check_size(LaunchType::Fargate, 4096, 30720).is_none());
    assert!(check_size(LaunchType::Fargate, 4096, 31744).is_some());
    assert!(check_size(LaunchType::Fargate, 8192, 20480).is_none());
    assert!(check_size(LaunchType::Fargate, 8192, 18432).is_some());
    assert!(check_size(LaunchType::Fargate, 3000, 8192).is_some());
    assert!(check_size(LaunchType::Ec2, 3000, 8192).is_none());
}

#[test]
fn names_and_ids() {
    assert!(is_catalog_name("lake_2024"));
    assert!(!is_catalog_name("2lake"));
    assert!(!is_catalog_name("Lake"));
    assert!(!is_catalog_name(""));
    assert!(is_region("us-gov-west-1"));
    assert!(is_region("eu-west-1"));
    assert!(!is_region("eu-west"));
    assert!(is_aws_id("subnet-0123456789abcdef0", "subnet-"));
    assert!(!is_aws_id("subnet-xyz", "subnet-"));
    assert!(check_bucket("acme-lake").is_ok());
    assert!(check_bucket("Acme").is_err());
    assert!(check_image("ghcr.io/acme/trino@sha256:abc").is_ok());
    assert!(check_image("registry:5000/trino").is_err());
    assert!(check_image("trinodb/trino:latest").is_err());
}

#[test]
fn invalid_toml_is_located() {
    let found = issues("[aws\nregion = 1");
    assert_eq!(found[0].line, 1);
    assert!(
        found[0].to_string().starts_with("lake.toml:1:"),
        "{}",
        found[0]
    );
}

#[test]
fn unknown_variant_gets_a_suggestion() {
    let found = issues(&LOCAL.replace("launch_type = \"FARGATE\"", "launch_type = \"FARGAT\""));
    assert_eq!(found[0].key, "cluster.launch_type");
    assert!(
        found[0].message.contains("did you mean `FARGATE`?"),
        "{}",
        found[0].message
    );
}

#[test]
fn catalog_problems_are_located_at_the_catalog_field() {
    let text = LOCAL.replace(
        "url = \"jdbc:mysql://127.0.0.1:3306\"",
        "url = \"jdbc:postgresql://127.0.0.1:3306\"",
    );
    let found = issues(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].key, "catalogs.sales.url");
    let line = text
        .lines()
        .position(|l| l.starts_with("url = \"jdbc:postgresql://127.0.0.1:3306\""))
        .unwrap()
        + 1;
    assert_eq!(found[0].line, line, "{}", found[0]);
}
