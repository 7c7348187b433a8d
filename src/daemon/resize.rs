//! `POST /containers/{id}/resize`: a new window size for a container's terminal, passed to
//! the shim, which sets it on the pty master (the process gets SIGWINCH).

use super::error::{DaemonError, Result};
use super::Daemon;

impl Daemon {
    /// `POST /containers/{id}/resize`: the container's terminal takes a new size.
    pub async fn resize(&self, input: &str, rows: u16, cols: u16) -> Result<()> {
        let c = self.lookup(input)?;
        if !c.is_running() {
            return Err(DaemonError::Conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        if let Some(s) = c.stdin.lock().await.as_mut() {
            s.resize(rows, cols)
                .await
                .map_err(|e| DaemonError::system("resizing the terminal", e))?;
        }
        self.container_event(
            &c.snapshot(),
            "resize",
            &[("height", rows.to_string()), ("width", cols.to_string())],
        );
        Ok(())
    }
}
