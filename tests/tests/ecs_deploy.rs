//! trino-ecs-core against the AWS emulator (moto server): first deploy creates everything (checked against
//! the emulator's own state), a redeploy sends zero mutating calls, a changed catalog plans exactly one
//! parameter update plus two rolling deployments, a deploy killed mid-way converges on re-run, and a held
//! lock stops a second deploy.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use trino_ecs_core::aws::AwsCluster;
use trino_ecs_core::calls::CallCounter;
use trino_ecs_core::config::LakeConfig;
use trino_ecs_core::deploy::{self, DeployOptions};
use trino_ecs_core::lease::Holder;
use trino_ecs_core::model::{self, DeployInputs};
use trino_ecs_core::plan::Action;

/// The emulator's default VPC subnets and default security group (moto validates awsvpc networks).
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
    let (subnets, groups): (Vec<String>, Vec<String>) =
        serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        !subnets.is_empty() && !groups.is_empty(),
        "the emulator has no default VPC"
    );
    (subnets, groups)
}

fn config() -> LakeConfig {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/local.toml");
    let mut config = LakeConfig::load(&path).expect("examples/local.toml");
    config.cluster.name = lake_tests::unique_name("ecs");
    let (subnets, groups) = emulator_network();
    config.cluster.subnets = subnets;
    config.cluster.security_groups = groups;
    config
}

fn inputs(config: &LakeConfig) -> DeployInputs {
    DeployInputs {
        catalog_files: BTreeMap::from([
            (
                "lake".to_owned(),
                "connector.name=iceberg\niceberg.catalog.type=glue\n".to_owned(),
            ),
            (
                "sales".to_owned(),
                "connector.name=mysql\nconnection-password=${ENV:SALES_PASSWORD}\n".to_owned(),
            ),
        ]),
        catalog_secrets: BTreeMap::from([(
            "SALES_PASSWORD".to_owned(),
            format!("/trino/{}/catalogs/sales/password", config.cluster.name),
        )]),
        env: BTreeMap::new(),
        catalog_secret_values: BTreeMap::new(),
    }
}

/// The desired state of `config` without catalog secrets (whose parameters these tests do not create).
fn desired_without_catalog_secrets(config: &LakeConfig) -> model::Desired {
    let mut inputs = inputs(config);
    inputs.catalog_secrets.clear();
    model::desired(config, &inputs).unwrap()
}

/// Takes the deploy lock as "the other deploy" for ten minutes.
async fn hold_lock(aws: &AwsCluster, desired: &model::Desired) -> trino_ecs_core::aws::DeployLock {
    aws.lock(
        &desired.lock_parameter,
        &desired.cluster,
        &Holder::named("the other deploy"),
        Duration::from_secs(600),
    )
    .await
    .unwrap()
}

/// Applies the part of the current plan that `part` keeps, as a deploy cut off midway would; returns it.
async fn apply_part(
    aws: &AwsCluster,
    desired: &model::Desired,
    part: impl FnOnce(&mut Vec<Action>),
) -> trino_ecs_core::plan::Plan {
    let observed = aws.observe(desired).await.unwrap();
    let mut plan = trino_ecs_core::plan::plan(desired, &observed);
    part(&mut plan.actions);
    aws.apply(
        desired,
        &plan,
        &observed,
        "20261203T000000.000Z",
        None,
        &mut |_| {},
    )
    .await
    .unwrap();
    plan
}

async fn run_deploy(aws: &AwsCluster, desired: &model::Desired) -> trino_ecs_core::plan::Plan {
    deploy::deploy(
        aws,
        desired,
        &DeployOptions::default(),
        &mut |_| true,
        &mut |_| {},
    )
    .await
    .expect("deploy")
    .expect("confirmed")
}

#[tokio::test]
async fn first_deploy_creates_everything_and_redeploy_makes_no_mutating_call() {
    let sdk = lake_tests::aws_config().await;
    let config = config();
    let name = config.cluster.name.clone();
    let inputs = inputs(&config);
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    // The catalog store (trino-catalogs) keeps catalog secrets; stand in for it with the real parameter.
    ssm.put_parameter()
        .name(&inputs.catalog_secrets["SALES_PASSWORD"])
        .value("s3cret")
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let desired = model::desired(&config, &inputs).unwrap();
    let counter = CallCounter::new();
    let aws = AwsCluster::with_counter(&sdk, &counter);

    let plan = run_deploy(&aws, &desired).await;
    // moto 5.2 does not route CloudWatch's CBOR protocol: the alarm is then reported as skipped.
    let cloudwatch = plan.skipped.is_empty();
    assert_eq!(
        plan.actions.len(),
        desired.parameters.len() + 9 + usize::from(cloudwatch),
        "{plan}"
    );
    let first_calls = counter.calls();
    println!(
        "first deploy: {} calls, {} mutating: {:?}",
        first_calls.len(),
        counter.mutating().len(),
        counter.by_operation()
    );

    // SSM: every rendered file as a String, the generated shared secret as a SecureString; lock released.
    let mut params = Vec::new();
    let mut pages = ssm
        .get_parameters_by_path()
        .path(format!("/trino/{name}"))
        .recursive(true)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        params.extend(page.unwrap().parameters().iter().cloned());
    }
    let by_name: BTreeMap<String, aws_sdk_ssm::types::Parameter> = params
        .into_iter()
        .map(|p| (p.name().unwrap().to_owned(), p))
        .collect();
    for (pname, spec) in &desired.parameters {
        let p = by_name
            .get(pname)
            .unwrap_or_else(|| panic!("parameter {pname} missing"));
        let secure = p.r#type() == Some(&aws_sdk_ssm::types::ParameterType::SecureString);
        assert_eq!(
            secure,
            !matches!(spec.value, model::ParamValue::Text(_)),
            "{pname}"
        );
    }
    assert!(
        !by_name.contains_key(&desired.lock_parameter),
        "the deploy lock must be released"
    );

    // ECS task definitions: every secret points at an existing SSM parameter, by ARN.
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    for family in [format!("{name}-coordinator"), format!("{name}-worker")] {
        let td = ecs
            .describe_task_definition()
            .task_definition(&family)
            .send()
            .await
            .unwrap();
        let td = td.task_definition().unwrap();
        assert_eq!(td.revision(), 1);
        let container = &td.container_definitions()[0];
        assert!(!container.secrets().is_empty());
        for secret in container.secrets() {
            let arn = secret.value_from();
            let pname = format!(
                "/{}",
                arn.split(":parameter/")
                    .nth(1)
                    .unwrap_or_else(|| panic!("{arn} is not a parameter ARN"))
            );
            assert!(
                by_name.contains_key(&pname),
                "{} -> {arn} does not exist in SSM",
                secret.name()
            );
        }
        assert!(
            container.environment().is_empty(),
            "no value travels inline"
        );
        assert_eq!(container.port_mappings()[0].name(), Some("trino"));
        assert_eq!(container.stop_timeout(), Some(120));
    }

    // Cloud Map namespace and the cluster's Service Connect default.
    let sd = aws_sdk_servicediscovery::Client::new(&sdk);
    let namespaces = sd.list_namespaces().send().await.unwrap();
    let ns: Vec<_> = namespaces
        .namespaces()
        .iter()
        .filter(|n| n.name() == Some(name.as_str()))
        .collect();
    assert_eq!(ns.len(), 1);
    let clusters = ecs
        .describe_clusters()
        .clusters(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        clusters.clusters()[0]
            .service_connect_defaults()
            .and_then(|d| d.namespace()),
        ns[0].arn()
    );

    // Services exist with their counts; moto does not keep serviceConnectConfiguration, so the Service
    // Connect settings are checked in the CreateService requests the emulator received.
    let services = ecs
        .describe_services()
        .cluster(&name)
        .services(format!("{name}-coordinator"))
        .services(format!("{name}-worker"))
        .send()
        .await
        .unwrap();
    let counts: BTreeMap<&str, i32> = services
        .services()
        .iter()
        .map(|s| (s.service_name().unwrap(), s.desired_count()))
        .collect();
    assert_eq!(counts[format!("{name}-coordinator").as_str()], 1);
    assert_eq!(counts[format!("{name}-worker").as_str()], 2);
    let creates: Vec<serde_json::Value> = first_calls
        .iter()
        .filter(|c| c.operation == "CreateService")
        .map(|c| serde_json::from_str(&c.body).unwrap())
        .collect();
    assert_eq!(creates.len(), 2);
    let coordinator = creates
        .iter()
        .find(|b| b["serviceName"] == format!("{name}-coordinator"))
        .unwrap();
    let sc = &coordinator["serviceConnectConfiguration"];
    assert_eq!(sc["enabled"], true);
    assert_eq!(sc["services"][0]["portName"], "trino");
    assert_eq!(
        sc["services"][0]["clientAliases"][0]["dnsName"],
        format!("{name}-coordinator")
    );
    assert_eq!(sc["services"][0]["clientAliases"][0]["port"], 8080);
    assert_eq!(
        coordinator["deploymentConfiguration"]["minimumHealthyPercent"],
        0
    );
    assert_eq!(
        coordinator["deploymentConfiguration"]["maximumPercent"],
        100
    );
    assert_eq!(
        coordinator["deploymentConfiguration"]["deploymentCircuitBreaker"]["rollback"],
        true
    );
    let worker = creates
        .iter()
        .find(|b| b["serviceName"] == format!("{name}-worker"))
        .unwrap();
    assert_eq!(worker["serviceConnectConfiguration"]["enabled"], true);
    assert!(
        worker["serviceConnectConfiguration"]
            .get("services")
            .is_none(),
        "workers are clients only"
    );

    // Autoscaling: the target's bounds, both policies, the alarm wired to the step policy.
    let aas = aws_sdk_applicationautoscaling::Client::new(&sdk);
    let resource = format!("service/{name}/{name}-worker");
    let targets = aas
        .describe_scalable_targets()
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
        .resource_ids(&resource)
        .send()
        .await
        .unwrap();
    let t = &targets.scalable_targets()[0];
    assert_eq!((t.min_capacity(), t.max_capacity()), (1, 2));
    let policies = aas
        .describe_scaling_policies()
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
        .resource_id(&resource)
        .send()
        .await
        .unwrap();
    let mut kinds: Vec<String> = policies
        .scaling_policies()
        .iter()
        .map(|p| p.policy_type().as_str().to_owned())
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["StepScaling", "TargetTrackingScaling"]);
    let step_arn = policies
        .scaling_policies()
        .iter()
        .find(|p| p.policy_type().as_str() == "StepScaling")
        .map(|p| p.policy_arn().to_owned())
        .unwrap();
    if cloudwatch {
        let cw = aws_sdk_cloudwatch::Client::new(&sdk);
        let alarms = cw
            .describe_alarms()
            .alarm_names(format!("{name}-workers-queued-queries"))
            .send()
            .await
            .unwrap();
        assert_eq!(alarms.metric_alarms()[0].alarm_actions(), [step_arn]);
    } else {
        assert_eq!(
            plan.skipped,
            [format!(
                "alarm {name}-workers-queued-queries (the endpoint does not implement CloudWatch)"
            )]
        );
        assert!(step_arn.contains("scalingPolicy"), "{step_arn}");
    }

    // Second deploy: a no-op, zero mutating calls sent to the emulator.
    counter.reset();
    let plan = run_deploy(&aws, &desired).await;
    assert!(plan.is_empty(), "{plan}");
    assert_eq!(
        counter.mutating(),
        vec![],
        "a no-op redeploy must not change anything"
    );
    println!(
        "no-op redeploy: {} calls, 0 mutating: {:?}",
        counter.calls().len(),
        counter.by_operation()
    );
}

/// The parameters a task-definition revision injects, by name.
async fn parameters_read(ecs: &aws_sdk_ecs::Client, revision: &str) -> Vec<String> {
    let td = ecs
        .describe_task_definition()
        .task_definition(revision)
        .send()
        .await
        .unwrap();
    td.task_definition().unwrap().container_definitions()[0]
        .secrets()
        .iter()
        .map(|s| trino_ecs_core::runner::ecs::parameter_name(s.value_from()).unwrap())
        .collect()
}

/// The content-addressed parameter among `names` that holds `file` (`<dir>/<digest>/<file>`).
fn file_in<'a>(names: impl IntoIterator<Item = &'a String>, file: &str) -> String {
    names
        .into_iter()
        .find(|n| model::file_of_parameter(n).is_some_and(|f| f.ends_with(file)))
        .unwrap_or_else(|| panic!("no parameter holds {file}"))
        .clone()
}

async fn parameter_value(ssm: &aws_sdk_ssm::Client, name: &str) -> Option<String> {
    ssm.get_parameter()
        .name(name)
        .send()
        .await
        .ok()
        .and_then(|p| p.parameter()?.value().map(str::to_owned))
}

#[tokio::test]
async fn a_changed_catalog_is_a_new_revision_and_the_old_one_keeps_its_own_files() {
    let sdk = lake_tests::aws_config().await;
    let mut config = config();
    config.cluster.retained_revisions = 2;
    // Static catalogs: both roles read the catalog files, so a catalog change is a new revision of each (with
    // dynamic ones only the coordinator reads them; `a_catalog_only_change_is_made_live...` in plan.rs).
    config.cluster.catalog_management = trino_ecs_core::config::CatalogManagement::Static;
    let mut inputs = inputs(&config);
    inputs.catalog_secrets.clear();
    let aws = AwsCluster::new(&sdk);
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    let name = config.cluster.name.clone();
    let worker = format!("{name}-worker");
    run_deploy(&aws, &model::desired(&config, &inputs).unwrap()).await;
    let lake_file = |names: &[String]| file_in(names, "/catalog/lake.properties");
    let first = parameters_read(&ecs, &format!("{worker}:1")).await;

    let orc = "connector.name=iceberg\niceberg.catalog.type=glue\niceberg.file-format=ORC\n";
    inputs.catalog_files.insert("lake".into(), orc.into());
    let desired = model::desired(&config, &inputs).unwrap();
    let plan = deploy::plan(&aws, &desired).await.unwrap();
    let text = plan.to_string();
    let kinds: Vec<&str> = plan.actions.iter().map(Action::kind).collect();
    assert_eq!(
        kinds,
        [
            "parameter",
            "task-definition",
            "task-definition",
            "service",
            "service"
        ],
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "      (replaces {}, which stays for rollback)\n      + iceberg.file-format=ORC\n",
            lake_file(&first)
        )),
        "{text}"
    );
    let applied = run_deploy(&aws, &desired).await;
    assert_eq!(applied, plan);
    assert!(deploy::plan(&aws, &desired).await.unwrap().is_empty());

    // Revision 2 reads the new file; revision 1 still reads the old one, unchanged: a rollback to it (or the
    // circuit breaker's) starts tasks with the configuration they were deployed with.
    let second = parameters_read(&ecs, &format!("{worker}:2")).await;
    assert_ne!(lake_file(&first), lake_file(&second));
    assert_eq!(
        parameter_value(&ssm, &lake_file(&second)).await.as_deref(),
        Some(orc)
    );
    assert_eq!(
        parameter_value(&ssm, &lake_file(&first)).await.as_deref(),
        Some("connector.name=iceberg\niceberg.catalog.type=glue\n")
    );
    for file in &first {
        assert!(
            parameter_value(&ssm, file).await.is_some(),
            "{file} of revision 1 is gone"
        );
    }

    // Removing a catalog: revision 3 without it; keeping two revisions retires revision 1, and the files
    // only it read go with it. The sales file stays: revision 2 still reads it.
    inputs.catalog_files.remove("sales");
    let desired = model::desired(&config, &inputs).unwrap();
    let plan = run_deploy(&aws, &desired).await;
    let sales = file_in(&first, "/catalog/sales.properties");
    assert!(plan.actions.iter().all(|a| a.target() != sales), "{plan}");
    assert!(
        plan.actions.iter().any(
            |a| matches!(a, Action::DeleteParameter { name, .. } if *name == lake_file(&first))
        ),
        "{plan}"
    );
    assert_eq!(parameter_value(&ssm, &lake_file(&first)).await, None);
    assert!(parameter_value(&ssm, &sales).await.is_some());
    assert!(deploy::plan(&aws, &desired).await.unwrap().is_empty());
}

/// The task-definition revision (`family:N`) `service` runs.
async fn running_revision(ecs: &aws_sdk_ecs::Client, cluster: &str, service: &str) -> String {
    let out = ecs
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .unwrap();
    let arn = out.services()[0].task_definition().unwrap();
    arn.rsplit('/').next().unwrap().to_owned()
}

#[tokio::test]
async fn rollback_returns_to_the_previous_deploy_with_its_own_files_and_a_deploy_moves_forward_again()
 {
    let sdk = lake_tests::aws_config().await;
    let mut config = config();
    // Static catalogs, so the catalog change below is a new revision of both families.
    config.cluster.catalog_management = trino_ecs_core::config::CatalogManagement::Static;
    let mut inputs = inputs(&config);
    inputs.catalog_secrets.clear();
    let aws = AwsCluster::new(&sdk);
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    let name = config.cluster.name.clone();
    let (coordinator, worker) = (format!("{name}-coordinator"), format!("{name}-worker"));
    run_deploy(&aws, &model::desired(&config, &inputs).unwrap()).await;
    let first = parameters_read(&ecs, &format!("{worker}:1")).await;
    let orc = "connector.name=iceberg\niceberg.catalog.type=glue\niceberg.file-format=ORC\n";
    inputs.catalog_files.insert("lake".into(), orc.into());
    let desired = model::desired(&config, &inputs).unwrap();
    run_deploy(&aws, &desired).await;

    // status lists both deploys' revisions, which one runs, and the deploy ids tagged at registration.
    let status = aws.status(&desired).await.unwrap();
    let listed: Vec<(&str, bool)> = status
        .revisions
        .iter()
        .map(|r| (r.revision.as_str(), r.running))
        .collect();
    let rev = |family: &str, n: u32| format!("{family}:{n}");
    assert_eq!(
        listed,
        [
            (rev(&coordinator, 2).as_str(), true),
            (rev(&coordinator, 1).as_str(), false),
            (rev(&worker, 2).as_str(), true),
            (rev(&worker, 1).as_str(), false),
        ],
        "{status}"
    );
    let ids: Vec<&str> = status
        .revisions
        .iter()
        .map(|r| r.deploy.as_deref().expect("tagged"))
        .collect();
    assert!(
        ids[0] > ids[1] && ids[0] == ids[2] && ids[1] == ids[3],
        "{ids:?}"
    );
    assert!(
        status
            .to_string()
            .contains("retained revisions (newest 3 per family"),
        "{status}"
    );

    // A target that is not retained is refused before anything changes.
    let missing = trino_ecs_core::plan::RollbackTarget::parse(Some(&format!("{worker}:9")));
    let err = deploy::plan_rollback(&aws, &desired, &missing)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("is not a retained revision"), "{err}");

    // Undo the last deploy: the plan shows the file going back, then both services run revision 1, which
    // still reads the files it was registered with.
    let mut shown = String::new();
    let applied = deploy::rollback(
        &aws,
        &desired,
        &trino_ecs_core::plan::RollbackTarget::Previous,
        &DeployOptions::default(),
        &mut deploy::Rollout::default(),
        &mut |plan| {
            shown = plan.to_string();
            true
        },
        &mut |_| {},
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(applied.actions.len(), 2, "{applied}");
    assert!(
        shown.contains(&format!(
            "~ service {worker}: roll back {worker}:2 -> {worker}:1, deployed {}",
            ids[1]
        )) && shown.contains("      - iceberg.file-format=ORC\n"),
        "{shown}"
    );
    assert_eq!(
        running_revision(&ecs, &name, &worker).await,
        rev(&worker, 1)
    );
    assert_eq!(
        running_revision(&ecs, &name, &coordinator).await,
        rev(&coordinator, 1)
    );
    let lake = file_in(&first, "/catalog/lake.properties");
    assert_eq!(
        parameter_value(&ssm, &lake).await.as_deref(),
        Some("connector.name=iceberg\niceberg.catalog.type=glue\n")
    );
    // Rolled back already: the same rollback again has nothing earlier to go to.
    let again = deploy::plan_rollback(
        &aws,
        &desired,
        &trino_ecs_core::plan::RollbackTarget::Previous,
    )
    .await;
    assert!(
        again
            .as_ref()
            .is_err_and(|e| e.to_string().contains("no earlier deploy")),
        "{again:?}"
    );

    // The config still describes revision 2: a deploy says the services were rolled back and moves them.
    let plan = deploy::plan(&aws, &desired).await.unwrap();
    assert!(
        plan.to_string().contains(&format!(
            "~ service {worker}: runs {worker}:1, rolled back from the config's revision"
        )),
        "{plan}"
    );
    run_deploy(&aws, &desired).await;
    assert_eq!(
        running_revision(&ecs, &name, &worker).await,
        rev(&worker, 2)
    );
    assert!(deploy::plan(&aws, &desired).await.unwrap().is_empty());
}

/// The ACTIVE revisions of `family`, as numbers.
async fn active_revisions(ecs: &aws_sdk_ecs::Client, family: &str) -> Vec<u32> {
    let active = ecs
        .list_task_definitions()
        .family_prefix(family)
        .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
        .send()
        .await
        .unwrap();
    let mut revisions: Vec<u32> = active
        .task_definition_arns()
        .iter()
        .map(|arn| arn.rsplit(':').next().unwrap().parse().unwrap())
        .collect();
    revisions.sort();
    revisions
}

#[tokio::test]
async fn image_changes_keep_the_retained_revisions_and_retire_older_ones_once_unused() {
    let sdk = lake_tests::aws_config().await;
    let mut config = config();
    config.cluster.retained_revisions = 2;
    let mut inputs = inputs(&config);
    inputs.catalog_secrets.clear();
    let aws = AwsCluster::new(&sdk);
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let name = config.cluster.name.clone();
    let families = [format!("{name}-coordinator"), format!("{name}-worker")];
    run_deploy(&aws, &model::desired(&config, &inputs).unwrap()).await;

    // Same release (476) in other tags, so only the image changes, not the rendered files.
    let mut plans = Vec::new();
    for tag in ["476-arm64", "476-amd64"] {
        config.cluster.image = format!("trinodb/trino:{tag}");
        let desired = model::desired(&config, &inputs).unwrap();
        plans.push(run_deploy(&aws, &desired).await);
        assert!(deploy::plan(&aws, &desired).await.unwrap().is_empty());
    }
    let kinds = |plan: &trino_ecs_core::plan::Plan| -> Vec<(String, String)> {
        plan.actions
            .iter()
            .map(|a| {
                (
                    a.kind().to_owned(),
                    a.target().rsplit('/').next().unwrap().to_owned(),
                )
            })
            .collect()
    };
    // The second revision keeps the first as a rollback target; the third retires the first, which no
    // service ran when planning.
    assert_eq!(
        kinds(&plans[0]),
        [
            ("task-definition".into(), families[0].clone()),
            ("task-definition".into(), families[1].clone()),
            ("service".into(), families[0].clone()),
            ("service".into(), families[1].clone()),
        ],
        "{}",
        plans[0]
    );
    assert_eq!(
        kinds(&plans[1])[4..],
        [
            ("task-definition".into(), format!("{}:1", families[0])),
            ("task-definition".into(), format!("{}:1", families[1])),
        ],
        "{}",
        plans[1]
    );
    for family in &families {
        assert_eq!(active_revisions(&ecs, family).await, [2, 3], "{family}");
    }
    let services = ecs
        .describe_services()
        .cluster(&name)
        .services(&families[1])
        .send()
        .await
        .unwrap();
    assert!(
        services.services()[0]
            .task_definition()
            .unwrap()
            .ends_with(&format!("{}:3", families[1]))
    );
}

#[tokio::test]
async fn revisions_a_killed_deploy_left_registered_are_retired_by_the_next_one() {
    let sdk = lake_tests::aws_config().await;
    let mut config = config();
    config.cluster.retained_revisions = 1;
    let aws = AwsCluster::new(&sdk);
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    run_deploy(&aws, &desired_without_catalog_secrets(&config)).await;

    // A run that died right after registering the new revisions: the services still run revision 1.
    config.cluster.image = "trinodb/trino:476-arm64".into();
    let changed = desired_without_catalog_secrets(&config);
    let partial = apply_part(&aws, &changed, |actions| {
        actions.retain(|a| matches!(a, Action::RegisterTaskDefinition { .. }))
    })
    .await;
    assert_eq!(partial.actions.len(), 2, "{partial}");
    let name = &config.cluster.name;
    let families = [format!("{name}-coordinator"), format!("{name}-worker")];
    for family in &families {
        assert_eq!(active_revisions(&ecs, family).await, [1, 2], "{family}");
    }
    let targets = |plan: &trino_ecs_core::plan::Plan| -> Vec<(String, String)> {
        plan.actions
            .iter()
            .map(|a| {
                (
                    a.kind().to_owned(),
                    a.target().rsplit('/').next().unwrap().to_owned(),
                )
            })
            .collect()
    };

    // The re-run moves the services and keeps revision 1, which they ran when it planned...
    let rerun = run_deploy(&aws, &changed).await;
    assert_eq!(
        targets(&rerun),
        [
            ("service".into(), families[0].clone()),
            ("service".into(), families[1].clone()),
        ],
        "{rerun}"
    );
    // ...and the next one retires it: one revision is retained, and no service runs it any more.
    let next = run_deploy(&aws, &changed).await;
    assert_eq!(
        targets(&next),
        [
            ("task-definition".into(), format!("{}:1", families[0])),
            ("task-definition".into(), format!("{}:1", families[1])),
        ],
        "{next}"
    );
    for family in &families {
        assert_eq!(active_revisions(&ecs, family).await, [2], "{family}");
    }
    assert!(deploy::plan(&aws, &changed).await.unwrap().is_empty());
}

#[tokio::test]
async fn parameters_take_the_cheapest_tier_and_an_advanced_one_comes_back_to_standard() {
    let sdk = lake_tests::aws_config().await;
    let config = config();
    let mut inputs = inputs(&config);
    inputs.catalog_secrets.clear();
    let aws = AwsCluster::new(&sdk);
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    let tier = |parameter: String| {
        let ssm = ssm.clone();
        async move {
            let filter = aws_sdk_ssm::types::ParameterStringFilter::builder()
                .key("Name")
                .values(&parameter)
                .build()
                .unwrap();
            let out = ssm
                .describe_parameters()
                .parameter_filters(filter)
                .send()
                .await
                .unwrap();
            out.parameters()[0].tier().unwrap().as_str().to_owned()
        }
    };
    let lake =
        |desired: &model::Desired| file_in(desired.parameters.keys(), "/catalog/lake.properties");
    let small = inputs.catalog_files["lake"].clone();
    inputs.catalog_files.insert(
        "lake".into(),
        format!("{small}# {}\n", "padding ".repeat(700)),
    );
    let big = model::desired(&config, &inputs).unwrap();
    run_deploy(&aws, &big).await;
    assert_eq!(tier(lake(&big)).await, "Advanced");

    inputs.catalog_files.insert("lake".into(), small.clone());
    let desired = model::desired(&config, &inputs).unwrap();
    run_deploy(&aws, &desired).await;
    assert_eq!(tier(lake(&desired)).await, "Standard");

    // A parameter of unchanged value left Advanced (as older deploys left grown-then-shrunk files): the
    // plan moves it back down, deleting and re-creating it, and says so.
    let parameter = lake(&desired);
    ssm.put_parameter()
        .name(&parameter)
        .value(&small)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .tier(aws_sdk_ssm::types::ParameterTier::Advanced)
        .overwrite(true)
        .send()
        .await
        .unwrap();
    let plan = run_deploy(&aws, &desired).await;
    let text = plan.to_string();
    assert!(
        text.contains(&format!(
            "\n~ parameter {parameter} (advanced -> standard tier: deleted and re-created, SSM cannot downgrade in place)\n"
        )),
        "{text}"
    );
    assert_eq!(plan.actions.len(), 1, "{text}");
    assert_eq!(tier(parameter).await, "Standard");
    assert!(deploy::plan(&aws, &desired).await.unwrap().is_empty());
}

#[tokio::test]
async fn deploy_killed_midway_converges_without_duplicates() {
    let sdk = lake_tests::aws_config().await;
    let config = config();
    let desired = desired_without_catalog_secrets(&config);
    let aws = AwsCluster::new(&sdk);

    // Apply only part of the first plan, stopping right after the first task definition, as a crash would.
    apply_part(&aws, &desired, |actions| {
        let cut = actions
            .iter()
            .position(|a| a.kind() == "task-definition")
            .unwrap()
            + 1;
        actions.truncate(cut);
    })
    .await;

    let rest = deploy::plan(&aws, &desired).await.unwrap();
    assert!(
        rest.actions.iter().all(|a| !matches!(
            a,
            Action::CreateNamespace { .. } | Action::PutCluster { .. }
        )),
        "{rest}"
    );
    assert_eq!(
        rest.actions
            .iter()
            .filter(|a| a.kind() == "task-definition")
            .count(),
        1,
        "{rest}"
    );
    assert_eq!(
        rest.actions
            .iter()
            .filter(|a| a.kind() == "parameter")
            .count(),
        0,
        "{rest}"
    );
    run_deploy(&aws, &desired).await;
    assert!(deploy::plan(&aws, &desired).await.unwrap().is_empty());

    let name = &config.cluster.name;
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    for family in [format!("{name}-coordinator"), format!("{name}-worker")] {
        let revisions = ecs
            .list_task_definitions()
            .family_prefix(&family)
            .send()
            .await
            .unwrap();
        assert_eq!(
            revisions.task_definition_arns().len(),
            1,
            "{family}: {:?}",
            revisions.task_definition_arns()
        );
    }
    let services = ecs.list_services().cluster(name).send().await.unwrap();
    assert_eq!(services.service_arns().len(), 2);
    let sd = aws_sdk_servicediscovery::Client::new(&sdk);
    let namespaces = sd.list_namespaces().send().await.unwrap();
    assert_eq!(
        namespaces
            .namespaces()
            .iter()
            .filter(|n| n.name() == Some(name.as_str()))
            .count(),
        1
    );
}

#[tokio::test]
async fn a_held_lock_stops_a_second_deploy() {
    let sdk = lake_tests::aws_config().await;
    let config = config();
    let desired = desired_without_catalog_secrets(&config);
    let aws = AwsCluster::new(&sdk);
    let held = hold_lock(&aws, &desired).await;
    let options = DeployOptions {
        lock_wait: Duration::from_secs(3),
        ..Default::default()
    };
    let err = deploy::deploy(&aws, &desired, &options, &mut |_| true, &mut |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(err, trino_ecs_core::Error::Locked { ref owner, .. } if owner == "the other deploy"),
        "{err}"
    );
    assert!(
        aws.observe(&desired).await.unwrap().services.is_empty(),
        "nothing was applied"
    );
    aws.unlock(held).await.unwrap();
    run_deploy(&aws, &desired).await;

    // An expired lease (its holder died) is taken over.
    let _stale = aws
        .lock(
            &desired.lock_parameter,
            &desired.cluster,
            &Holder::named("dead deploy"),
            Duration::ZERO,
        )
        .await
        .unwrap();
    let again = aws
        .lock(
            &desired.lock_parameter,
            &desired.cluster,
            &Holder::named("me"),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    aws.unlock(again).await.unwrap();
}

/// Issue 16 item 9: a deploy killed on this machine leaves its lock behind; the next deploy sees that the
/// holder's process is gone and takes the lock over at once instead of waiting 30 minutes. A lock held by a
/// live process, or by one on another machine, stays, until a confirmed `force_unlock` of exactly the lease
/// that was shown.
#[tokio::test]
async fn a_lock_whose_holder_died_here_is_taken_over_and_any_lock_can_be_forced() {
    let sdk = lake_tests::aws_config().await;
    let config = config();
    let desired = desired_without_catalog_secrets(&config);
    let aws = AwsCluster::new(&sdk);
    let here = format!("test-host-{}", std::process::id());
    let on_this_host = |owner: &str, pid: u32| Holder {
        owner: owner.into(),
        host: here.clone(),
        pid,
    };
    // A process that has exited (and was reaped): its pid names no process.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    child.wait().unwrap();
    let dead = on_this_host("killed deploy", child.id());
    let me = on_this_host("next deploy", std::process::id());
    let lease = Duration::from_secs(1800);
    let _abandoned = aws
        .lock(&desired.lock_parameter, &desired.cluster, &dead, lease)
        .await
        .unwrap();
    let taken = aws
        .lock(&desired.lock_parameter, &desired.cluster, &me, lease)
        .await
        .expect("the lock of a dead holder on this machine is taken over");
    let holder = aws
        .lock_holder(&desired.lock_parameter)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(holder.owner, "next deploy");

    // Held by a live process here (this one): refused, naming the holder.
    let other = on_this_host("third deploy", std::process::id());
    let err = aws
        .lock(&desired.lock_parameter, &desired.cluster, &other, lease)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, trino_ecs_core::Error::Locked { owner, .. } if owner.contains("next deploy")),
        "{err}"
    );
    assert!(err.to_string().contains("--force-unlock"), "{err}");

    // Forcing needs the lease that was shown: a stale view removes nothing.
    let mut stale = holder.clone();
    stale.token = "another".into();
    assert!(
        !aws.force_unlock(&desired.lock_parameter, &stale)
            .await
            .unwrap()
    );
    assert!(
        aws.lock_holder(&desired.lock_parameter)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        aws.force_unlock(&desired.lock_parameter, &holder)
            .await
            .unwrap()
    );
    assert!(
        aws.lock_holder(&desired.lock_parameter)
            .await
            .unwrap()
            .is_none()
    );
    // The forced-out holder's unlock then leaves alone what is not its own.
    let again = aws
        .lock(&desired.lock_parameter, &desired.cluster, &other, lease)
        .await
        .unwrap();
    aws.unlock(taken).await.unwrap();
    assert_eq!(
        aws.lock_holder(&desired.lock_parameter)
            .await
            .unwrap()
            .map(|l| l.owner),
        Some("third deploy".to_owned())
    );
    aws.unlock(again).await.unwrap();
    assert!(
        aws.lock_holder(&desired.lock_parameter)
            .await
            .unwrap()
            .is_none()
    );
}

/// Everything a converged cluster must have exactly once.
async fn assert_no_duplicates(sdk: &aws_config::SdkConfig, name: &str) {
    let ecs = aws_sdk_ecs::Client::new(sdk);
    for family in [format!("{name}-coordinator"), format!("{name}-worker")] {
        let revisions = ecs
            .list_task_definitions()
            .family_prefix(&family)
            .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
            .send()
            .await
            .unwrap();
        assert_eq!(revisions.task_definition_arns().len(), 1, "{family}");
    }
    let services = ecs.list_services().cluster(name).send().await.unwrap();
    assert_eq!(services.service_arns().len(), 2, "{name}");
    let sd = aws_sdk_servicediscovery::Client::new(sdk);
    let namespaces = sd.list_namespaces().send().await.unwrap();
    let same = namespaces
        .namespaces()
        .iter()
        .filter(|n| n.name() == Some(name))
        .count();
    assert_eq!(same, 1, "{name}");
    let aas = aws_sdk_applicationautoscaling::Client::new(sdk);
    let policies = aas
        .describe_scaling_policies()
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
        .resource_id(format!("service/{name}/{name}-worker"))
        .send()
        .await
        .unwrap();
    assert_eq!(policies.scaling_policies().len(), 2, "{name}");
}

#[tokio::test]
async fn a_deploy_killed_after_any_step_converges_on_rerun() {
    let sdk = lake_tests::aws_config().await;
    let aws = AwsCluster::new(&sdk);
    let total = {
        let config = config();
        let desired = model::desired(&config, &inputs(&config)).unwrap();
        deploy::plan(&aws, &desired).await.unwrap().actions.len()
    };
    for cut in (1..total).step_by(3) {
        let config = config();
        let mut inputs = inputs(&config);
        inputs.catalog_secrets.clear();
        let desired = model::desired(&config, &inputs).unwrap();
        apply_part(&aws, &desired, |actions| actions.truncate(cut)).await;
        let rest = run_deploy(&aws, &desired).await;
        assert!(
            rest.actions.len() < total,
            "cut {cut}: the rerun redid everything:\n{rest}"
        );
        assert!(
            deploy::plan(&aws, &desired).await.unwrap().is_empty(),
            "cut {cut}"
        );
        assert_no_duplicates(&sdk, &config.cluster.name).await;
    }
}

#[tokio::test]
async fn two_concurrent_deploys_serialise_on_the_lock() {
    let sdk = lake_tests::aws_config().await;
    let config = config();
    let desired = desired_without_catalog_secrets(&config);
    let (a, b) = (AwsCluster::new(&sdk), AwsCluster::new(&sdk));
    let options = DeployOptions {
        lock_wait: Duration::from_secs(60),
        ..Default::default()
    };
    let (mut yes_a, mut yes_b) = (
        |_: &trino_ecs_core::plan::Plan| true,
        |_: &trino_ecs_core::plan::Plan| true,
    );
    let (mut quiet_a, mut quiet_b) = (|_: &Action| {}, |_: &Action| {});
    let (first, second) = tokio::join!(
        deploy::deploy(&a, &desired, &options, &mut yes_a, &mut quiet_a),
        deploy::deploy(&b, &desired, &options, &mut yes_b, &mut quiet_b),
    );
    let (first, second) = (first.unwrap().unwrap(), second.unwrap().unwrap());
    // Both saw work to do; the one that got the lock second re-planned and found nothing left.
    let applied = [first.actions.len(), second.actions.len()];
    assert!(
        applied.contains(&0),
        "one deploy must find the other's work done: {applied:?}"
    );
    assert!(deploy::plan(&a, &desired).await.unwrap().is_empty());
    assert_no_duplicates(&sdk, &config.cluster.name).await;
}

/// A deploy confirms a plan, then waits for the lock while another deploy changes the cluster: the plan it would
/// apply under the lock differs from the confirmed one, so it is confirmed again, never applied unseen.
#[tokio::test]
async fn a_plan_changed_while_waiting_for_the_lock_is_confirmed_again() {
    let sdk = lake_tests::aws_config().await;
    let config = config();
    let desired = desired_without_catalog_secrets(&config);
    let aws = AwsCluster::new(&sdk);
    let held = hold_lock(&aws, &desired).await;
    let seen: std::sync::Arc<std::sync::Mutex<Vec<usize>>> = Default::default();
    let waiting = {
        let (sdk, desired, seen) = (sdk.clone(), desired.clone(), seen.clone());
        tokio::spawn(async move {
            let aws = AwsCluster::new(&sdk);
            let options = DeployOptions {
                lock_wait: Duration::from_secs(60),
                ..Default::default()
            };
            let mut confirm = |p: &trino_ecs_core::plan::Plan| {
                seen.lock().unwrap().push(p.actions.len());
                true
            };
            deploy::deploy(&aws, &desired, &options, &mut confirm, &mut |_| {}).await
        })
    };
    while seen.lock().unwrap().is_empty() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The lock holder applies part of the same plan, as a deploy that was cut off would.
    apply_part(&aws, &desired, |actions| {
        actions.truncate(actions.len() / 2)
    })
    .await;
    aws.unlock(held).await.unwrap();

    let applied = waiting.await.unwrap().unwrap().expect("confirmed again");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.len(),
        2,
        "the changed plan was confirmed again: {seen:?}"
    );
    assert!(seen[1] < seen[0], "{seen:?}");
    assert_eq!(seen[1], applied.actions.len());
    assert!(deploy::plan(&aws, &desired).await.unwrap().is_empty());
    assert_no_duplicates(&sdk, &config.cluster.name).await;
}
