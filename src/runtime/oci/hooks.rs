//! OCI hooks: programs config.json names, run at the points of a container's life the
//! runtime-spec fixes, each given the container's state as JSON on its stdin. A hook that
//! fails (or outlives its `timeout`) fails the step it belongs to, except poststart and
//! poststop, whose failures are only logged, as runc does.

use super::plan::HookPlan;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Run each hook in turn; the first failure is the answer.
pub fn run_all(stage: &str, hooks: &[HookPlan], state: &serde_json::Value) -> Result<(), String> {
    for h in hooks {
        run(h, state).map_err(|e| format!("running {stage} hook {}: {e}", h.path.display()))?;
    }
    Ok(())
}

fn run(h: &HookPlan, state: &serde_json::Value) -> Result<(), String> {
    let mut cmd = Command::new(&h.path);
    // args[0] is the name the hook sees itself called by, as in execve(2).
    if let Some((first, rest)) = h.args.split_first() {
        use std::os::unix::process::CommandExt;
        cmd.arg0(first).args(rest);
    }
    cmd.env_clear()
        .envs(h.env.iter().filter_map(|e| e.split_once('=')))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is no failure.
        let _ = stdin.write_all(state.to_string().as_bytes());
    }
    // With a timeout, polled for it; without, simply waited for.
    if let Some(limit) = h.timeout.filter(|t| *t > 0) {
        let deadline = Instant::now() + Duration::from_secs(limit as u64);
        while child.try_wait().map_err(|e| e.to_string())?.is_none() {
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("timed out after {limit} s"));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if text.is_empty() {
        text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    }
    Err(format!("{}, output: {text:?}", out.status))
}
