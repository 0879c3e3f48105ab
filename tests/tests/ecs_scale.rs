//! `scale` against the AWS emulator (moto server): the worker service's desired count follows the request,
//! and ECS task scale-in protection, which moto does not implement, fails with a typed error instead of
//! being silently skipped. (moto never starts tasks, so the drain path itself is tested in
//! trino-ecs-core's drain tests against fake Trino workers on loopback.)

use std::collections::BTreeMap;
use std::path::Path;

use trino_ecs_core::aws::AwsCluster;
use trino_ecs_core::config::LakeConfig;
use trino_ecs_core::deploy::{self, DeployOptions};
use trino_ecs_core::drain::{
    self, EcsWorkerFleet, HttpNodeApi, Protection, ScaleOptions, WorkerFleet,
};
use trino_ecs_core::model::{self, DeployInputs};

fn emulator_network() -> (Vec<String>, Vec<String>) {
    let script = r#"
import boto3, json, os
ec2 = boto3.client("ec2", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ.get("AWS_REGION", "us-east-1"),
                   aws_access_key_id="testing", aws_secret_access_key="testing")
subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]]
groups = [g["GroupId"] for g in ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["default"]}])["SecurityGroups"]]
print(json.dumps([sorted(subnets)[:2], groups[:1]]))
"#;
    let out = std::process::Command::new(lake_tests::python())
        .args(["-c", script])
        .env("AWS_ENDPOINT_URL", lake_tests::endpoint_url())
        // The harness may name a profile only the Rust SDK's config knows; boto3 must not look for it.
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_DEFAULT_PROFILE")
        .output()
        .expect("run the harness python");
    assert!(
        out.status.success(),
        "looking up the emulator's default VPC failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

#[tokio::test]
async fn scale_sets_the_worker_count_and_protection_is_a_typed_error_on_moto() {
    let sdk = lake_tests::aws_config().await;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/local.toml");
    let mut config = LakeConfig::load(&path).unwrap();
    config.cluster.name = lake_tests::unique_name("ecs");
    let (subnets, groups) = emulator_network();
    config.cluster.subnets = subnets;
    config.cluster.security_groups = groups;
    let inputs = DeployInputs {
        catalog_files: BTreeMap::from([("lake".into(), "connector.name=iceberg\n".into())]),
        ..Default::default()
    };
    let desired = model::desired(&config, &inputs).unwrap();
    let aws = AwsCluster::new(&sdk);
    deploy::deploy(
        &aws,
        &desired,
        &DeployOptions::default(),
        &mut |_| true,
        &mut |_| {},
    )
    .await
    .unwrap();

    let name = &config.cluster.name;
    let fleet = EcsWorkerFleet::new(&sdk, name, &format!("{name}-worker"));
    let service = fleet.service().await.unwrap();
    assert_eq!(service.desired, 2);
    assert!(
        service
            .task_definition
            .ends_with(&format!(":task-definition/{name}-worker:1")),
        "{service:?}"
    );
    assert_eq!(
        fleet.tasks().await.unwrap(),
        vec![],
        "moto never starts tasks"
    );

    let report = drain::scale_workers(
        &fleet,
        &HttpNodeApi::new(),
        3,
        &ScaleOptions::default(),
        &mut |_: &str| {},
    )
    .await
    .unwrap();
    assert_eq!((report.from, report.to), (2, 3));
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let described = ecs
        .describe_services()
        .cluster(name)
        .services(format!("{name}-worker"))
        .send()
        .await
        .unwrap();
    assert_eq!(described.services()[0].desired_count(), 3);

    // Scaling the count does not change the deployed spec: the next plan is still empty.
    assert!(deploy::plan(&aws, &desired).await.unwrap().is_empty());

    // moto 5.2 lacks UpdateTaskProtection: the adapter must say so with a typed error, not a generic one.
    // (A later moto that implements it may accept the call; any other failure is a defect.)
    let result = fleet
        .protect(
            &["arn:aws:ecs:us-east-1:123456789012:task/x/abc".into()],
            Protection::For { minutes: 60 },
        )
        .await;
    match result {
        Ok(()) => {}
        Err(trino_ecs_core::Error::Unsupported {
            operation: "ecs:UpdateTaskProtection",
            ..
        }) => {}
        Err(other) => panic!("expected success or a typed unsupported error, got {other:?}"),
    }
}
