//! `berth-runc state`: the container's OCI state, as JSON, its status read off the kernel.

use super::Globals;

#[derive(clap::Args, Debug)]
pub struct Args {
    pub id: String,
}

pub fn run(g: &Globals, a: &Args) -> anyhow::Result<i32> {
    let c = super::load(g, &a.id)?;
    let st = c.oci_state(c.status(&g.root));
    println!("{}", serde_json::to_string_pretty(&st)?);
    Ok(0)
}
