//! The product runtime: one long-lived Docker container per task (bollard).
//!
//! The container idles in a shell loop and every agent turn is an `exec` in it, so the agent's
//! home (session state) and any processes it started survive from turn to turn and across CI
//! rounds. Hardening: all capabilities dropped, `no-new-privileges`, an init process to reap
//! zombies, memory/CPU/pids limits, a non-root user that owns the bind-mounted workspace.

use super::{
    EnvironmentSpec, EnvironmentState, ExecEvent, ExecSpec, Runtime, RuntimeError, Stats,
    HOME_MOUNT, LABEL_INSTANCE, LABEL_MANAGED, LABEL_TASK, WORKSPACE_MOUNT,
};
use app::model::TaskId;
use bollard::{
    container::LogOutput,
    exec::{CreateExecOptions, StartExecOptions, StartExecResults},
    models::{ContainerCreateBody, HostConfig},
    query_parameters::{
        CreateContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
        StatsOptionsBuilder, StopContainerOptionsBuilder,
    },
    Docker,
};
use futures::StreamExt;
use std::{collections::HashMap, time::Duration};
use tokio::{io::AsyncWriteExt, sync::mpsc};

/// Keeps the container alive without GNU `sleep infinity` (busybox images have no such thing);
/// exits promptly on `docker stop`.
const KEEP_ALIVE: &str = "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done";
/// After the exec'd process has exited, how long to keep reading output that is still in flight.
/// Background children that inherited stdout would otherwise hold the stream open forever.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);
/// Buffered output chunks per exec before the reader waits for the consumer.
const EXEC_CHANNEL: usize = 256;

pub struct DockerRuntime {
    docker: Docker,
}

fn failed(context: &str, e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Failed(format!("{context}: {e}"))
}

fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

impl DockerRuntime {
    /// Connects to the local engine (`DOCKER_HOST` or the default socket) and negotiates the API
    /// version (the Debian engine speaks 1.41; bollard defaults to newer).
    pub async fn connect() -> Result<DockerRuntime, RuntimeError> {
        let docker = Docker::connect_with_local_defaults()
            .map_err(|e| RuntimeError::Unreachable(e.to_string()))?;
        let docker = docker
            .negotiate_version()
            .await
            .map_err(|e| RuntimeError::Unreachable(e.to_string()))?;
        docker
            .ping()
            .await
            .map_err(|e| RuntimeError::Unreachable(e.to_string()))?;
        Ok(DockerRuntime { docker })
    }

    fn container_name(task_id: &TaskId) -> String {
        format!("amp-task-{}", task_id.simple())
    }
}

#[async_trait::async_trait]
impl Runtime for DockerRuntime {
    fn kind(&self) -> &'static str {
        "docker"
    }

    async fn create(&self, spec: &EnvironmentSpec) -> Result<String, RuntimeError> {
        let name = Self::container_name(&spec.task_id);
        // A container of this name can only be a leftover of an earlier attempt for this task.
        let _ = self.remove(&name).await;
        let memory = i64::try_from(spec.memory_bytes).unwrap_or(i64::MAX);
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            entrypoint: Some(vec!["/bin/sh".into(), "-c".into(), KEEP_ALIVE.into()]),
            working_dir: Some(WORKSPACE_MOUNT.into()),
            user: Some(spec.user.clone()),
            env: Some(vec![format!("HOME={HOME_MOUNT}")]),
            labels: Some(HashMap::from([
                (LABEL_MANAGED.to_string(), "true".to_string()),
                (LABEL_INSTANCE.to_string(), spec.instance.clone()),
                (LABEL_TASK.to_string(), spec.task_id.to_string()),
            ])),
            host_config: Some(HostConfig {
                binds: Some(vec![
                    format!("{}:{WORKSPACE_MOUNT}:rw", spec.workspace.display()),
                    format!("{}:{HOME_MOUNT}:rw", spec.home.display()),
                ]),
                memory: Some(memory),
                memory_swap: Some(memory),
                nano_cpus: Some((spec.cpus * 1e9) as i64),
                pids_limit: Some(i64::from(spec.pids)),
                network_mode: Some(spec.network.clone()),
                init: Some(true),
                cap_drop: Some(vec!["ALL".into()]),
                security_opt: Some(vec!["no-new-privileges".into()]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default().name(&name).build();
        let created = self
            .docker
            .create_container(Some(options), body)
            .await
            .map_err(|e| {
                failed(
                    &format!("cannot create a container from image {}", spec.image),
                    e,
                )
            })?;
        if let Err(e) = self.docker.start_container(&created.id, None).await {
            let _ = self.remove(&created.id).await;
            return Err(failed("cannot start the container", e));
        }
        Ok(created.id)
    }

    async fn exec(
        &self,
        id: &str,
        spec: ExecSpec,
    ) -> Result<mpsc::Receiver<ExecEvent>, RuntimeError> {
        let env: Vec<String> = spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let exec = self
            .docker
            .create_exec(
                id,
                CreateExecOptions {
                    cmd: Some(spec.argv.clone()),
                    env: Some(env),
                    attach_stdin: Some(true),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    tty: Some(false),
                    working_dir: Some(WORKSPACE_MOUNT.to_string()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| failed("cannot start the command in the container", e))?;
        let started = self
            .docker
            .start_exec(
                &exec.id,
                Some(StartExecOptions {
                    detach: false,
                    tty: false,
                    output_capacity: None,
                }),
            )
            .await
            .map_err(|e| failed("cannot attach to the command", e))?;
        let StartExecResults::Attached {
            mut output,
            mut input,
        } = started
        else {
            return Err(RuntimeError::Failed("the command started detached".into()));
        };
        let (tx, rx) = mpsc::channel(EXEC_CHANNEL);
        let docker = self.docker.clone();
        let exec_id = exec.id;
        tokio::spawn(async move {
            // Half-close stdin after the prompt: the CLI sees EOF and starts working.
            let stdin = spec.stdin;
            let writer = tokio::spawn(async move {
                let _ = input.write_all(&stdin).await;
                let _ = input.shutdown().await;
            });
            let mut poll = tokio::time::interval(Duration::from_secs(1));
            let mut exited_at: Option<tokio::time::Instant> = None;
            loop {
                tokio::select! {
                    chunk = output.next() => match chunk {
                        Some(Ok(LogOutput::StdOut { message })) | Some(Ok(LogOutput::Console { message })) => {
                            if tx.send(ExecEvent::Stdout(message)).await.is_err() { return; }
                        }
                        Some(Ok(LogOutput::StdErr { message })) => {
                            if tx.send(ExecEvent::Stderr(message)).await.is_err() { return; }
                        }
                        Some(Ok(LogOutput::StdIn { .. })) => {}
                        Some(Err(e)) => {
                            let _ = tx.send(ExecEvent::Lost(format!("output stream broke: {e}"))).await;
                            return;
                        }
                        None => break,
                    },
                    _ = poll.tick() => {
                        // The process may be gone while a background child keeps the stream open.
                        if exited_at.is_none() {
                            if let Ok(info) = docker.inspect_exec(&exec_id).await {
                                if info.running == Some(false) {
                                    exited_at = Some(tokio::time::Instant::now());
                                }
                            }
                        } else if exited_at.is_some_and(|t| t.elapsed() >= DRAIN_AFTER_EXIT) {
                            break;
                        }
                    }
                }
            }
            writer.abort();
            let code = match docker.inspect_exec(&exec_id).await {
                Ok(info) => info.exit_code,
                Err(e) => {
                    let _ = tx
                        .send(ExecEvent::Lost(format!("cannot read the exit code: {e}")))
                        .await;
                    return;
                }
            };
            let _ = tx.send(ExecEvent::Exited(code)).await;
        });
        Ok(rx)
    }

    async fn state(&self, id: &str) -> Result<Option<EnvironmentState>, RuntimeError> {
        match self.docker.inspect_container(id, None).await {
            Ok(info) => {
                let state = info.state.unwrap_or_default();
                Ok(Some(EnvironmentState {
                    running: state.running.unwrap_or(false),
                    oom_killed: state.oom_killed.unwrap_or(false),
                    exit_code: state.exit_code,
                }))
            }
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(failed("cannot inspect the container", e)),
        }
    }

    async fn stats(&self, id: &str) -> Result<Option<Stats>, RuntimeError> {
        // Not one-shot: the engine then samples twice, which a CPU percentage needs.
        let options = StatsOptionsBuilder::default()
            .stream(false)
            .one_shot(false)
            .build();
        let mut stream = self.docker.stats(id, Some(options));
        match stream.next().await {
            Some(Ok(s)) => {
                let cpu = s.cpu_stats.unwrap_or_default();
                let pre = s.precpu_stats.unwrap_or_default();
                let total = |c: &bollard::models::ContainerCpuStats| {
                    c.cpu_usage
                        .as_ref()
                        .and_then(|u| u.total_usage)
                        .unwrap_or(0)
                };
                let cpu_delta = total(&cpu).saturating_sub(total(&pre)) as f64;
                let system_delta = cpu
                    .system_cpu_usage
                    .unwrap_or(0)
                    .saturating_sub(pre.system_cpu_usage.unwrap_or(0))
                    as f64;
                let cpus = f64::from(cpu.online_cpus.unwrap_or(1).max(1));
                let cpu_percent = if system_delta > 0.0 {
                    cpu_delta / system_delta * cpus * 100.0
                } else {
                    0.0
                };
                let memory = s.memory_stats.unwrap_or_default();
                // Like `docker stats`: page cache that can be reclaimed is not "used".
                let cache = memory
                    .stats
                    .as_ref()
                    .and_then(|m| m.get("inactive_file").or_else(|| m.get("cache")).copied())
                    .unwrap_or(0);
                Ok(Some(Stats {
                    cpu_percent,
                    memory_bytes: memory.usage.unwrap_or(0).saturating_sub(cache),
                    memory_limit_bytes: memory.limit,
                }))
            }
            Some(Err(e)) if is_not_found(&e) => Ok(None),
            Some(Err(e)) => Err(failed("cannot read container stats", e)),
            None => Ok(None),
        }
    }

    async fn stop(&self, id: &str) -> Result<(), RuntimeError> {
        let options = StopContainerOptionsBuilder::default().t(5).build();
        match self.docker.stop_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            Err(e) => Err(failed("cannot stop the container", e)),
        }
    }

    async fn remove(&self, id: &str) -> Result<(), RuntimeError> {
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        match self.docker.remove_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            // Removal already in progress (a second cancel): the container is going away.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(()),
            Err(e) => Err(failed("cannot remove the container", e)),
        }
    }

    async fn managed(&self, instance: &str) -> Result<Vec<(String, Option<TaskId>)>, RuntimeError> {
        let labels = vec![
            format!("{LABEL_MANAGED}=true"),
            format!("{LABEL_INSTANCE}={instance}"),
        ];
        let filters = HashMap::from([("label".to_string(), labels)]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let containers = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| failed("cannot list containers", e))?;
        Ok(containers
            .into_iter()
            .filter_map(|c| {
                let task = c
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(LABEL_TASK))
                    .and_then(|t| TaskId::parse_str(t).ok());
                c.id.map(|id| (id, task))
            })
            .collect())
    }
}
