//! `run` and `create`: the flags become a CreateRequest, and `run` then makes the docker CLI's
//! calls in its order (create, pulling a missing image first; attach, hijacked; wait; start) so
//! that nothing the container prints early is lost and the wait sees its first exit. Failures
//! exit 125, 126 or 127 as docker's do, so scripts can tell a daemon error from a command that
//! could not be run or found.

use super::opts::{health_config, resource_fields, restart_policy, size_flag, RunArgs};
use crate::api::client::{Client, ClientError};
use crate::cli::report;
use crate::wire::types::{
    ContainerConfig, CreateRequest, CreateResponse, HostConfig, WaitResponse,
};
use hyper::Method;

/// The create request for the flags; `cwd` is where relative mount sources are taken from.
fn create_request(a: &RunArgs, cwd: Option<&str>) -> Result<CreateRequest, String> {
    let attach = !a.detach;
    let labels: std::collections::BTreeMap<String, String> = a
        .labels
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect();
    let mut extra = serde_json::Map::new();
    if let Some(t) = a.stop_timeout {
        extra.insert("StopTimeout".into(), t.into());
    }
    let some = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    let mounts = super::mountopts::plan(&a.storage, cwd)?;
    let mut request = CreateRequest {
        config: ContainerConfig {
            hostname: a.hostname.clone().unwrap_or_default(),
            user: a.user.clone().unwrap_or_default(),
            attach_stdin: attach && a.interactive,
            attach_stdout: attach,
            attach_stderr: attach,
            tty: a.tty,
            open_stdin: a.interactive,
            stdin_once: attach && a.interactive,
            env: if a.env.is_empty() {
                None
            } else {
                Some(a.env.clone())
            },
            cmd: if a.command.is_empty() {
                None
            } else {
                Some(a.command.clone())
            },
            image: a.image.clone(),
            working_dir: a.workdir.clone().unwrap_or_default(),
            // `--entrypoint ""` clears the image's entrypoint, as docker's does.
            entrypoint: a.entrypoint.as_ref().map(|e| {
                if e.is_empty() {
                    vec![]
                } else {
                    vec![e.clone()]
                }
            }),
            labels: Some(labels),
            stop_signal: a.stop_signal.clone(),
            extra,
            ..Default::default()
        },
        host_config: Some(HostConfig {
            auto_remove: a.rm,
            privileged: a.privileged,
            network_mode: a.network.clone().unwrap_or_else(|| "default".into()),
            readonly_rootfs: a.read_only,
            init: a.init.then_some(true),
            cap_add: some(&a.cap_add),
            cap_drop: some(&a.cap_drop),
            restart_policy: restart_policy(&a.restart),
            console_size: a
                .tty
                .then(crate::cli::session::console_size)
                .flatten()
                .unwrap_or_default(),
            ..Default::default()
        }),
        networking_config: None,
    };
    super::mountopts::apply(mounts, &mut request);
    if let Some(hc) = request.host_config.as_mut() {
        super::nsopts::apply(&a.namespaces, hc)?;
    }
    Ok(request)
}

/// The flags docker refuses while it reads them, refused before the daemon is asked anything,
/// so a typo is reported the same with or without a daemon.
fn check_flags(a: &RunArgs) -> Result<(), ClientError> {
    super::mountopts::plan(&a.storage, None).map_err(ClientError::Protocol)?;
    super::nsopts::fields(&a.namespaces).map_err(ClientError::Protocol)?;
    Ok(())
}

/// `run` prints a daemon error, adds docker's hint line, and picks 125/126/127 as docker does.
fn run_failure(err: &ClientError) -> i32 {
    match err {
        ClientError::Api { message, .. } => {
            eprintln!("berth: Error response from daemon: {message}");
            eprintln!("Run 'berth run --help' for more information");
            start_error_code(message)
        }
        other => {
            eprintln!("berth: {other}");
            if matches!(
                other,
                ClientError::Connect { .. } | ClientError::Permission { .. }
            ) {
                1
            } else {
                125
            }
        }
    }
}

/// The docker CLI's rule: a missing executable is 127, one that cannot run is 126.
pub fn start_error_code(message: &str) -> i32 {
    if message.contains("executable file not found")
        || message.contains("no such file or directory")
        || message.contains("system cannot find the file specified")
    {
        127
    } else if message.contains("permission denied") || message.contains("is a directory") {
        126
    } else {
        125
    }
}

async fn create_container(client: &Client, a: &RunArgs) -> Result<String, ClientError> {
    // Like docker, refuse before creating anything when the cidfile is already there.
    if let Some(f) = &a.cidfile {
        if f.exists() {
            return Err(ClientError::Protocol(format!(
                "Container ID file found, make sure the other container isn't running or delete {}",
                f.display()
            )));
        }
    }
    let id = create_only(client, a).await?;
    if let Some(f) = &a.cidfile {
        if let Err(e) = crate::util::fsutil::write_atomic(f, id.as_bytes()) {
            return Err(ClientError::Protocol(format!(
                "writing the container ID file {}: {e}",
                f.display()
            )));
        }
    }
    Ok(id)
}

async fn create_only(client: &Client, a: &RunArgs) -> Result<String, ClientError> {
    let limits = resource_fields(&a.resources).map_err(ClientError::Protocol)?;
    let security = security_opts(&a.security_opt).map_err(ClientError::Protocol)?;
    let mut exposed = std::collections::BTreeMap::new();
    let mut bindings: std::collections::BTreeMap<String, Vec<serde_json::Value>> =
        Default::default();
    for spec in &a.publish {
        for (key, ip, port) in
            crate::network::ports::parse_publish(spec).map_err(ClientError::Protocol)?
        {
            exposed.insert(key.clone(), serde_json::json!({}));
            bindings
                .entry(key)
                .or_default()
                .push(serde_json::json!({ "HostIp": ip, "HostPort": port }));
        }
    }
    let mut path = "/containers/create".to_string();
    if let Some(n) = &a.name {
        path.push_str(&format!(
            "?name={}",
            url::form_urlencoded::byte_serialize(n.as_bytes()).collect::<String>()
        ));
    }
    let cwd = std::env::current_dir()
        .ok()
        .map(|d| d.to_string_lossy().into_owned());
    let mut request = create_request(a, cwd.as_deref()).map_err(ClientError::Protocol)?;
    for h in &a.add_hosts {
        crate::network::extra_hosts::parse(h).map_err(|e| {
            ClientError::Protocol(format!(
                "invalid argument {h:?} for \"--add-host\" flag: {e}"
            ))
        })?;
    }
    request.config.healthcheck = health_config(&a.health).map_err(ClientError::Protocol)?;
    if !exposed.is_empty() {
        request.config.exposed_ports = Some(exposed);
    }
    super::netopts::apply(
        &a.net,
        a.network.as_deref(),
        &mut request,
        client.api_version(),
    )
    .map_err(ClientError::Protocol)?;
    if let Some(hc) = request.host_config.as_mut() {
        if let Some(n) = size_flag("--shm-size", &a.shm_size).map_err(ClientError::Protocol)? {
            hc.extra.insert("ShmSize".into(), n.into());
        }
        if let Some(driver) = &a.log_driver {
            hc.log_config.driver = driver.clone();
        }
        hc.log_config.config = crate::runtime::logging::opts::from_flags(&a.log_opts);
        if hc.log_config.driver == "none" && !a.log_opts.is_empty() {
            return Err(ClientError::Protocol(
                "invalid logging opts for driver none".into(),
            ));
        }
        if !a.group_add.is_empty() {
            hc.extra
                .insert("GroupAdd".into(), serde_json::json!(a.group_add));
        }
        if !a.add_hosts.is_empty() {
            hc.extra
                .insert("ExtraHosts".into(), serde_json::json!(a.add_hosts));
        }
        if !bindings.is_empty() {
            hc.port_bindings = Some(
                bindings
                    .into_iter()
                    .map(|(k, v)| (k, serde_json::Value::Array(v)))
                    .collect(),
            );
        }
        *hc = hc.with_fields(limits).map_err(ClientError::Protocol)?;
        if !security.is_empty() {
            hc.security_opt = Some(security);
        }
    }
    if a.pull == "always" {
        crate::cli::registry::pull_image(client, &a.image, false, true).await?;
    }
    let resp: Result<CreateResponse, _> = client.post_json(&path, &request).await;
    let warn = |r: CreateResponse| {
        for w in &r.warnings {
            eprintln!("WARNING: {w}");
        }
        r.id
    };
    match resp {
        Ok(r) => Ok(warn(r)),
        Err(ClientError::Api {
            status: 404,
            message,
        }) if message.starts_with("No such image") && a.pull == "missing" => {
            // Docker's order: say so, pull (progress on stderr, stdout is the container's),
            // then create again.
            eprintln!("Unable to find image '{}' locally", familiar(&a.image));
            crate::cli::registry::pull_image(client, &a.image, false, true).await?;
            let r: CreateResponse = client.post_json(&path, &request).await?;
            Ok(warn(r))
        }
        Err(e) => Err(e),
    }
}

/// `--security-opt`, as the docker CLI sends it: a seccomp profile named by a file goes to
/// the daemon as the file's contents.
fn security_opts(opts: &[String]) -> Result<Vec<String>, String> {
    opts.iter()
        .map(|o| {
            let profile = o
                .strip_prefix("seccomp=")
                .or_else(|| o.strip_prefix("seccomp:"));
            match profile {
                Some(p) if p != "unconfined" => {
                    let json = std::fs::read_to_string(p)
                        .map_err(|e| format!("opening seccomp profile ({p}) failed: {e}"))?;
                    Ok(format!("seccomp={json}"))
                }
                _ => Ok(o.clone()),
            }
        })
        .collect()
}

fn familiar(image: &str) -> String {
    match crate::image::reference::Reference::parse(image) {
        Ok(r) => r.familiar(),
        Err(_) => image.to_string(),
    }
}

pub async fn create(client: &Client, a: RunArgs) -> i32 {
    if let Err(e) = check_flags(&a) {
        return run_failure(&e);
    }
    match create_container(client, &a).await {
        Ok(id) => {
            println!("{id}");
            0
        }
        Err(e) => create_failure(&e),
    }
}

/// `create` reports the daemon's refusal as any other command does, and exits 1 as docker's
/// `create` does (125 is for the flags it could not read, and for `run`).
fn create_failure(err: &ClientError) -> i32 {
    match err {
        ClientError::Api { message, .. } => {
            eprintln!("Error response from daemon: {message}");
            1
        }
        other => run_failure(other),
    }
}

pub async fn run(client: &Client, a: RunArgs) -> i32 {
    if let Err(e) = check_flags(&a) {
        return run_failure(&e);
    }
    if let Err(e) = client.ping().await {
        return run_failure(&e);
    }
    if !a.detach {
        if let Err(e) = crate::cli::session::check_terminal(a.tty, a.interactive) {
            eprintln!("berth: {e}");
            return 1;
        }
    }
    let id = match create_container(client, &a).await {
        Ok(id) => id,
        Err(e) => return run_failure(&e),
    };
    if a.detach {
        return match client.post_empty(&format!("/containers/{id}/start")).await {
            Ok(_) => {
                println!("{id}");
                0
            }
            Err(e) => run_failure(&e),
        };
    }

    let conn = match client
        .attach(
            &id,
            a.interactive,
            crate::cli::config::detach_keys(a.detach_keys.as_deref()).as_deref(),
        )
        .await
    {
        Ok(c) => c,
        Err(e) => return run_failure(&e),
    };
    let condition = if a.rm { "removed" } else { "next-exit" };
    let wait_resp = match client
        .request(
            Method::POST,
            &format!("/containers/{id}/wait?condition={condition}"),
            None,
        )
        .await
    {
        Ok(r) => r,
        Err(e) => return run_failure(&e),
    };
    let session = crate::cli::session::Session {
        client,
        stdin: a.interactive,
        tty: a.tty,
        resize_path: format!("/containers/{id}/resize"),
    };
    let raw = session.raw_mode();
    if let Err(e) = client.post_empty(&format!("/containers/{id}/start")).await {
        drop(raw);
        return run_failure(&e);
    }
    let pumped = session.pump(conn).await;
    drop(raw);
    if let Err(e) = pumped {
        eprintln!("berth: reading the container's output: {e}");
    }
    if a.interactive {
        // Detached with the keys: the container runs on, and so does its wait.
        if let Ok(v) = client
            .get_json::<serde_json::Value>(&format!("/containers/{id}/json"))
            .await
        {
            if v["State"]["Running"].as_bool().unwrap_or(false) {
                return 0;
            }
        }
    }
    let body = match Client::read_body(wait_resp).await {
        Ok(b) => b,
        Err(e) => return report(&e),
    };
    match serde_json::from_slice::<WaitResponse>(&body) {
        Ok(w) => {
            if let Some(err) = w.error {
                eprintln!("berth: {}", err.message);
            }
            w.status_code as i32
        }
        Err(e) => {
            eprintln!("berth: decoding the wait result: {e}");
            125
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use rstest::rstest;

    fn run_args(argv: &[&str]) -> RunArgs {
        let argv = ["berth", "run"].iter().chain(argv);
        match crate::cli::Cli::try_parse_from(argv).unwrap().command {
            crate::cli::Command::Run(a) => a,
            other => panic!("not run: {other:?}"),
        }
    }

    #[test]
    fn storage_flags_reach_the_request() {
        let a = run_args(&[
            "-v",
            "/data",
            "-v",
            "./src:/src:ro",
            "--volume",
            "cache:/cache",
            "--mount",
            "type=tmpfs,dst=/t,tmpfs-mode=700",
            "--tmpfs",
            "/run:size=1m",
            "--volumes-from",
            "c1:ro",
            "--volume-driver",
            "local",
            "busybox",
        ]);
        let v = serde_json::to_value(create_request(&a, Some("/w")).unwrap()).unwrap();
        assert_eq!(v["Volumes"], serde_json::json!({"/data": {}}));
        let hc = &v["HostConfig"];
        assert_eq!(
            hc["Binds"],
            serde_json::json!(["/w/src:/src:ro", "cache:/cache"])
        );
        assert_eq!(
            hc["Mounts"],
            serde_json::json!([{"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"Mode": 0o700}}])
        );
        assert_eq!(hc["Tmpfs"], serde_json::json!({"/run": "size=1m"}));
        assert_eq!(hc["VolumesFrom"], serde_json::json!(["c1:ro"]));
        assert_eq!(hc["VolumeDriver"], "local");
        let bad = run_args(&["--mount", "type=bind,target=/x,volume-nocopy", "busybox"]);
        assert_eq!(
            create_request(&bad, None).unwrap_err(),
            "invalid argument \"type=bind,target=/x,volume-nocopy\" for \"--mount\" flag: cannot mix 'volume-*' options with mount type 'bind'"
        );
    }

    #[rstest]
    #[case("failed to create task for container: exec: \"nosuch\": executable file not found in $PATH: unknown", 127)]
    #[case("exec: \"/nope\": stat /nope: no such file or directory", 127)]
    #[case("exec: \"/etc/passwd\": permission denied", 126)]
    #[case("exec: \"/etc\": is a directory", 126)]
    #[case("unable to find user nosuch: no matching entries in passwd file", 125)]
    fn start_errors_map_to_docker_exit_codes(#[case] msg: &str, #[case] code: i32) {
        assert_eq!(start_error_code(msg), code);
    }
}
