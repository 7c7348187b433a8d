//! `berth proxy <container id> <spec>`: the userland proxy of one container's published ports
//! (Docker's docker-proxy), for what DNAT cannot serve: connections from the host to
//! `127.0.0.1:<port>`. It inherits the sockets the daemon bound as fds 3, 4, ... and copies each
//! connection (or datagram) to the container; in its own session, it outlives the daemon like
//! the shim, and the daemon stops it when the container stops.

use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProxySpec {
    pub container_ip: Ipv4Addr,
    /// One per inherited socket, in fd order from 3.
    pub ports: Vec<super::ports::PortMapping>,
}

/// The first inherited socket.
pub const FIRST_FD: i32 = 3;

/// Where the daemon records a running proxy's pid: `<exec root>/proxies/<container id>`.
pub fn pid_file(exec_root: &Path, id: &str) -> PathBuf {
    exec_root.join("proxies").join(id)
}

/// Stop the proxy recorded for `id` (if it is still that container's proxy) and forget it.
pub fn stop(exec_root: &Path, id: &str) {
    let file = pid_file(exec_root, id);
    if let Some(pid) = std::fs::read_to_string(&file)
        .ok()
        .and_then(|p| p.trim().parse::<i32>().ok())
    {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        if args.get(1) == Some(&&b"proxy"[..]) && args.get(2) == Some(&id.as_bytes()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
    let _ = std::fs::remove_file(file);
}

pub fn main(spec: &str) -> ! {
    let code = match run(spec) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("berth proxy: {e:#}");
            1
        }
    };
    std::process::exit(code)
}

fn run(spec: &str) -> anyhow::Result<()> {
    let spec: ProxySpec = serde_json::from_str(spec)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let mut tasks = Vec::new();
        for (i, m) in spec.ports.iter().enumerate() {
            // SAFETY: the daemon put one socket at each fd from FIRST_FD, in `ports` order,
            // and nothing else in this process owns them.
            let fd = unsafe { OwnedFd::from_raw_fd(FIRST_FD + i as i32) };
            let target = SocketAddr::from((spec.container_ip, m.container_port));
            if m.proto == "udp" {
                let sock = std::net::UdpSocket::from(fd);
                sock.set_nonblocking(true)?;
                let sock = tokio::net::UdpSocket::from_std(sock)?;
                tasks.push(tokio::spawn(udp(sock, target)));
            } else {
                let l = std::net::TcpListener::from(fd);
                l.set_nonblocking(true)?;
                let l = tokio::net::TcpListener::from_std(l)?;
                tasks.push(tokio::spawn(tcp(l, target)));
            }
        }
        for t in tasks {
            let _ = t.await;
        }
        Ok(())
    })
}

async fn tcp(listener: tokio::net::TcpListener, target: SocketAddr) {
    loop {
        let Ok((mut client, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            if let Ok(mut upstream) = tokio::net::TcpStream::connect(target).await {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            }
        });
    }
}

/// UDP has no connections: each client address gets its own socket towards the container,
/// whose replies go back to that client, until it has been quiet for a minute.
async fn udp(sock: tokio::net::UdpSocket, target: SocketAddr) {
    use std::collections::HashMap;
    use std::sync::Arc;
    let sock = Arc::new(sock);
    let flows: Arc<tokio::sync::Mutex<HashMap<SocketAddr, Arc<tokio::net::UdpSocket>>>> =
        Arc::default();
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, client)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        let existing = flows.lock().await.get(&client).cloned();
        let upstream = match existing {
            Some(u) => u,
            None => {
                let Ok(u) = tokio::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).await else {
                    continue;
                };
                if u.connect(target).await.is_err() {
                    continue;
                }
                let u = Arc::new(u);
                flows.lock().await.insert(client, u.clone());
                let (back, reply, flows) = (sock.clone(), u.clone(), flows.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 65536];
                    while let Ok(Ok(n)) = tokio::time::timeout(
                        std::time::Duration::from_secs(60),
                        reply.recv(&mut buf),
                    )
                    .await
                    {
                        let _ = back.send_to(&buf[..n], client).await;
                    }
                    flows.lock().await.remove(&client);
                });
                u
            }
        };
        let _ = upstream.send(&buf[..n]).await;
    }
}
