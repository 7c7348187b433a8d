//! `berth-runc update`: new limits for a container's cgroup, as `linux.resources` JSON
//! (`--resources -` reads stdin: how containerd and dockerd send them) or as flags.

use super::Globals;
use crate::runtime::oci::plan::{self, ResourcesPlan};
use anyhow::{bail, Context};
use std::io::Read;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A file of linux.resources JSON, or - for stdin.
    #[arg(short, long)]
    pub resources: Option<String>,
    /// Bytes, or a number with k, m or g.
    #[arg(long)]
    pub memory: Option<String>,
    #[arg(long)]
    pub memory_swap: Option<String>,
    #[arg(long)]
    pub memory_reservation: Option<String>,
    #[arg(long)]
    pub cpu_shares: Option<i64>,
    #[arg(long)]
    pub cpu_quota: Option<i64>,
    #[arg(long)]
    pub cpu_period: Option<i64>,
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    #[arg(long)]
    pub pids_limit: Option<i64>,
    pub id: String,
}

fn size(v: &Option<String>) -> anyhow::Result<Option<i64>> {
    v.as_deref()
        .map(|s| {
            if s == "-1" {
                Ok(-1)
            } else {
                crate::cgroups::parse_size(s).map_err(anyhow::Error::msg)
            }
        })
        .transpose()
}

pub fn run(g: &Globals, a: &Args) -> anyhow::Result<i32> {
    let mut c = super::load(g, &a.id)?;
    let from_json = match &a.resources {
        Some(src) => {
            let mut text = Vec::new();
            if src == "-" {
                std::io::stdin()
                    .read_to_end(&mut text)
                    .context("reading stdin")?;
            } else {
                text = std::fs::read(src).with_context(|| format!("reading {src}"))?;
            }
            let parsed: oci_spec::runtime::LinuxResources =
                serde_json::from_slice(&text).context("parsing the resources")?;
            plan::resources(&parsed)?
        }
        None => ResourcesPlan::default(),
    };
    // The flags win over the JSON.
    let flags = ResourcesPlan {
        memory: size(&a.memory)?,
        memory_swap: size(&a.memory_swap)?,
        memory_reservation: size(&a.memory_reservation)?,
        cpu_shares: a.cpu_shares,
        cpu_quota: a.cpu_quota,
        cpu_period: a.cpu_period,
        cpuset_cpus: a.cpuset_cpus.clone(),
        pids_limit: a.pids_limit,
        ..ResourcesPlan::default()
    };
    let r = flags.over(&from_json);
    if !r.devices.is_empty() {
        bail!("berth-runc update cannot change device rules");
    }
    let cg = c.cgroup().context("the container's cgroup")?;
    cg.apply(&r.limits())?;
    super::create::apply_beyond_docker(&cg, &r)?;
    // What a later update starts from.
    c.plan.resources = r.over(&c.plan.resources);
    c.save(&g.root)?;
    Ok(0)
}
