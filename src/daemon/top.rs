//! `top`: the host's `ps`, narrowed to the processes of the container's cgroup, in Docker's
//! `{Titles, Processes}` shape.

use super::error::{DaemonError, Result};
use super::Daemon;

impl Daemon {
    /// `GET /containers/{id}/top`: the host's `ps`, narrowed to the container's processes,
    /// which is how Docker does it too.
    pub async fn top(&self, input: &str, ps_args: &str) -> Result<serde_json::Value> {
        let c = self.lookup(input)?;
        if !c.is_running() {
            return Err(DaemonError::Conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        let pids = self.cgroups.open(&c.id).procs();
        let args: Vec<&str> = if ps_args.is_empty() {
            vec!["-ef"]
        } else {
            ps_args.split_whitespace().collect()
        };
        let out = tokio::process::Command::new("ps")
            .args(&args)
            .output()
            .await
            .map_err(|e| DaemonError::system("running ps", e))?;
        if !out.status.success() {
            return Err(DaemonError::System(format!(
                "ps: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        parse_ps(&String::from_utf8_lossy(&out.stdout), &pids).map_err(DaemonError::System)
    }
}

/// Docker's `top` answer from `ps` output: the header's words are the titles; each row is
/// split into as many fields, the last taking the rest of the line (the command). Only rows
/// whose PID column names one of `pids` are kept.
pub fn parse_ps(output: &str, pids: &[i32]) -> std::result::Result<serde_json::Value, String> {
    let mut lines = output.lines();
    let header = lines.next().ok_or("ps printed nothing")?;
    let titles: Vec<&str> = header.split_whitespace().collect();
    let pid_col = titles
        .iter()
        .position(|t| *t == "PID")
        .ok_or("ps output has no PID column; give ps options that print one")?;
    let mut rows = Vec::new();
    for line in lines {
        let mut fields: Vec<String> = Vec::new();
        let mut rest = line.trim_start();
        while fields.len() + 1 < titles.len() {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            fields.push(rest[..end].to_string());
            rest = rest[end..].trim_start();
        }
        fields.push(rest.to_string());
        if fields
            .get(pid_col)
            .and_then(|p| p.parse::<i32>().ok())
            .is_some_and(|p| pids.contains(&p))
        {
            rows.push(fields);
        }
    }
    Ok(serde_json::json!({ "Titles": titles, "Processes": rows }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_keeps_the_containers_rows_and_the_whole_command() {
        let ps = "UID          PID    PPID  C STIME TTY          TIME CMD\nroot           1       0  0 10:48 ?        00:00:01 /sbin/init\nroot        4242    4000  0 10:49 ?        00:00:00 sleep 300 --long arg\n";
        let v = parse_ps(ps, &[4242]).unwrap();
        assert_eq!(v["Titles"].as_array().unwrap().len(), 8);
        assert_eq!(v["Processes"][0][1], "4242");
        assert_eq!(v["Processes"][0][7], "sleep 300 --long arg");
        assert_eq!(v["Processes"].as_array().unwrap().len(), 1);
        assert!(parse_ps("USER COMMAND\nroot x\n", &[1]).is_err());
    }
}
