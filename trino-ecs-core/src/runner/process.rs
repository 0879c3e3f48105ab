//! The runner's [`TaskLauncher`]: each task is a local process group, stopped as ECS stops a container.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

use super::{StopOutcome, TaskHandle, TaskLaunch, TaskLauncher};
use crate::error::{Error, Result};

/// Runs tasks as local processes. Each task runs in its own process group (so SIGTERM reaches the shell,
/// the launcher and the JVM alike), with a clean environment (only what the task definition and the image
/// give it, as in a container), its output appended to `<task dir>/task.log`, and a hosts file at
/// `<task dir>/hosts`.
#[derive(Debug, Default)]
pub struct ProcessLauncher {
    children: Mutex<BTreeMap<String, Child>>,
}

impl ProcessLauncher {
    /// A launcher with no tasks.
    pub fn new() -> Self {
        Self::default()
    }
}

/// The hosts file of a task: `localhost` and its own hostname at its own address, then every alias.
pub fn hosts_file(launch: &TaskLaunch) -> String {
    let short = launch
        .hostname
        .split('.')
        .next()
        .unwrap_or(&launch.hostname);
    let mut text = format!(
        "# Written by the lake's local task runner for task {}.\n{} localhost {} {}\n",
        launch.id, launch.address, launch.hostname, short
    );
    for (name, address) in &launch.hosts {
        let _ = writeln!(text, "{address} {name}");
    }
    text
}

fn local_err(what: impl Into<String>, e: impl std::fmt::Display) -> Error {
    Error::Local {
        what: what.into(),
        reason: e.to_string(),
    }
}

#[async_trait]
impl TaskLauncher for ProcessLauncher {
    async fn start(&self, launch: &TaskLaunch) -> Result<TaskHandle> {
        let Some((program, args)) = launch.command.split_first() else {
            return Err(local_err(
                format!("start task {}", launch.id),
                "the task definition's command is empty",
            ));
        };
        let hosts = launch.dir.join("hosts");
        std::fs::write(&hosts, hosts_file(launch))
            .map_err(|e| local_err(format!("write {}", hosts.display()), e))?;
        let log = launch.dir.join("task.log");
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| local_err(format!("open {}", log.display()), e))?;
        let err = out
            .try_clone()
            .map_err(|e| local_err(format!("open {}", log.display()), e))?;
        let mut command = Command::new(program);
        command
            .args(args)
            .env_clear()
            .envs(
                launch
                    .environment
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.expose())),
            )
            .current_dir(&launch.dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .kill_on_drop(true);
        let child = command
            .spawn()
            .map_err(|e| local_err(format!("start task {} ({program})", launch.id), e))?;
        let pid = child.id().unwrap_or_default();
        self.children
            .lock()
            .expect("the children lock is never poisoned")
            .insert(launch.id.clone(), child);
        Ok(TaskHandle {
            id: launch.id.clone(),
            pid,
            log,
        })
    }

    async fn stop(&self, task: &TaskHandle, timeout: Duration) -> Result<StopOutcome> {
        let Some(mut child) = self
            .children
            .lock()
            .expect("the children lock is never poisoned")
            .remove(&task.id)
        else {
            return Ok(StopOutcome {
                status: "not running".into(),
                killed: false,
            });
        };
        let group = Pid::from_raw(i32::try_from(task.pid).unwrap_or(i32::MAX));
        // ECS sends SIGTERM to the container, waits stopTimeout, then SIGKILLs it.
        let _ = killpg(group, Signal::SIGTERM);
        let (status, killed) = match tokio::time::timeout(timeout, child.wait()).await {
            Ok(status) => (status, false),
            Err(_) => {
                let _ = killpg(group, Signal::SIGKILL);
                (child.wait().await, true)
            }
        };
        // Whatever the main process left behind in its group goes too, as with a container's cgroup.
        let _ = killpg(group, Signal::SIGKILL);
        let status = status.map_err(|e| local_err(format!("wait for task {}", task.id), e))?;
        Ok(StopOutcome {
            status: status.to_string(),
            killed,
        })
    }

    fn exited(&self, task: &TaskHandle) -> Option<String> {
        let mut children = self
            .children
            .lock()
            .expect("the children lock is never poisoned");
        let child = children.get_mut(&task.id)?;
        match child.try_wait() {
            Ok(Some(status)) => {
                children.remove(&task.id);
                let group = Pid::from_raw(i32::try_from(task.pid).unwrap_or(i32::MAX));
                let _ = killpg(group, Signal::SIGKILL);
                Some(status.to_string())
            }
            Ok(None) => None,
            Err(e) => Some(format!("cannot wait for the process: {e}")),
        }
    }
}

impl Drop for ProcessLauncher {
    fn drop(&mut self) {
        // A runner that goes away without stopping its tasks must not leave JVMs behind.
        if let Ok(children) = self.children.get_mut() {
            for child in children.values() {
                if let Some(pid) = child.id() {
                    let _ = killpg(
                        Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX)),
                        Signal::SIGKILL,
                    );
                }
            }
        }
    }
}
