//! Counting the AWS calls an adapter really sends: an SDK interceptor that records every attempt's service
//! and operation (and, for ECS only, the request body, which carries no secret values by design).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// One request sent to AWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The service, e.g. `ECS`, `SSM`.
    pub service: String,
    /// The operation, e.g. `DescribeServices`.
    pub operation: String,
    /// The request body for ECS calls (JSON), empty otherwise.
    pub body: String,
}

impl Call {
    /// Whether the call changes state (anything but Describe/List/Get).
    pub fn is_mutating(&self) -> bool {
        !["Describe", "List", "Get"]
            .iter()
            .any(|p| self.operation.starts_with(p))
    }
}

/// Records every request attempt of the clients it is installed on. Cheap to clone; clones share the log.
#[derive(Debug, Clone, Default)]
pub struct CallCounter {
    calls: Arc<Mutex<Vec<Call>>>,
}

impl CallCounter {
    /// A new, empty counter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("counter lock").clone()
    }

    /// Forgets the calls so far.
    pub fn reset(&self) {
        self.calls.lock().expect("counter lock").clear();
    }

    /// The mutating calls so far.
    pub fn mutating(&self) -> Vec<Call> {
        self.calls().into_iter().filter(Call::is_mutating).collect()
    }

    /// Calls per `service:operation`.
    pub fn by_operation(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for call in self.calls() {
            *out.entry(format!("{}:{}", call.service, call.operation))
                .or_default() += 1;
        }
        out
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "trino-ecs-core call counter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_owned(), m.name().to_owned()))
            .unwrap_or_else(|| ("unknown".into(), "unknown".into()));
        let body = if service.eq_ignore_ascii_case("ecs") {
            context
                .request()
                .body()
                .bytes()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default()
        } else {
            String::new()
        };
        self.calls.lock().expect("counter lock").push(Call {
            service,
            operation,
            body,
        });
        Ok(())
    }
}
