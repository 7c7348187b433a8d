//! `berth version` and `berth info`, laid out as docker prints them.

use super::report;
use crate::api::client::Client;
use crate::wire::types::VersionResponse;

pub async fn version(client: &Client) -> i32 {
    println!("Client:");
    println!(" Version:           {}", env!("CARGO_PKG_VERSION"));
    println!(" API version:       {}", crate::wire::types::API_VERSION);
    println!(
        " OS/Arch:           linux/{}",
        std::env::consts::ARCH.replace("x86_64", "amd64")
    );
    println!();
    match client.get_json::<VersionResponse>("/version").await {
        Ok(v) => {
            println!("Server: berth");
            println!(" Engine:");
            println!("  Version:          {}", v.version);
            println!(
                "  API version:      {} (minimum version {})",
                v.api_version, v.min_api_version
            );
            println!("  OS/Arch:          {}/{}", v.os, v.arch);
            println!("  Kernel Version:   {}", v.kernel_version);
            0
        }
        Err(e) => report(&e),
    }
}

pub async fn info(client: &Client) -> i32 {
    let v: serde_json::Value = match client.get_json("/info").await {
        Ok(v) => v,
        Err(e) => return report(&e),
    };
    let s = |k: &str| match &v[k] {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    println!("Client:");
    println!(" Version:    {}", env!("CARGO_PKG_VERSION"));
    println!();
    println!("Server:");
    println!(" Containers: {}", s("Containers"));
    println!("  Running: {}", s("ContainersRunning"));
    println!("  Paused: {}", s("ContainersPaused"));
    println!("  Stopped: {}", s("ContainersStopped"));
    println!(" Images: {}", s("Images"));
    println!(" Server Version: {}", s("ServerVersion"));
    println!(" Storage Driver: {}", s("Driver"));
    println!(" Logging Driver: {}", s("LoggingDriver"));
    println!(" Cgroup Driver: {}", s("CgroupDriver"));
    println!(" Cgroup Version: {}", s("CgroupVersion"));
    println!(
        " Default Bridge: {} ({})",
        s("BerthBridge"),
        s("BerthSubnet")
    );
    println!(" Kernel Version: {}", s("KernelVersion"));
    println!(" Operating System: {}", s("OperatingSystem"));
    println!(" OSType: {}", s("OSType"));
    println!(" Architecture: {}", s("Architecture"));
    println!(" CPUs: {}", s("NCPU"));
    let mem = v["MemTotal"].as_f64().unwrap_or(0.0);
    println!(" Total Memory: {:.2}GiB", mem / 1024.0 / 1024.0 / 1024.0);
    println!(" Name: {}", s("Name"));
    println!(" Berth Root Dir: {}", s("DockerRootDir"));
    println!(" Debug Mode: {}", s("Debug"));
    println!(" Live Restore Enabled: {}", s("LiveRestoreEnabled"));
    0
}
