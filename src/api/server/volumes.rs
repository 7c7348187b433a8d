//! `/volumes/...`: list, create, inspect, remove and prune, each a call to the daemon's
//! volume verb of the same name.

use super::{json_response, ok_json};
use super::{ApiError, Call, Reply};
use crate::daemon::volume::VolumeFilters;
use crate::wire::volume::{VolumeCreateRequest, VolumeListResponse, VolumePruneResponse};
use hyper::StatusCode;

/// `GET /volumes?filters=`.
pub(super) async fn list(c: Call) -> Reply {
    let f = VolumeFilters::parse(
        c.query().get("filters"),
        &["dangling", "name", "label", "label!", "driver"],
    )?;
    let d = c.d.clone();
    let volumes = tokio::task::spawn_blocking(move || d.volume_list(&f))
        .await
        .map_err(|e| ApiError::BadRequest(e.to_string()))??;
    ok_json(&VolumeListResponse {
        volumes,
        warnings: Vec::new(),
    })
}

/// `POST /volumes/create`.
pub(super) async fn create(c: Call) -> Reply {
    let d = c.d.clone();
    let body = c.body().await?;
    let req: VolumeCreateRequest = if body.is_empty() {
        VolumeCreateRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("invalid JSON: {e}")))?
    };
    let v = d.volume_create(req).await?;
    Ok(json_response(StatusCode::CREATED, &v))
}

/// `GET /volumes/{name}`.
pub(super) async fn inspect(c: Call) -> Reply {
    ok_json(&c.d.volume_inspect(&c.param("name"))?)
}

/// `DELETE /volumes/{name}?force=`.
pub(super) async fn remove(c: Call) -> Reply {
    c.d.volume_remove(&c.param("name"), c.query().flag("force"))
        .await?;
    super::no_content()
}

/// `POST /volumes/prune?filters=` (`label`, `label!`, `all`). Before API 1.42 every unused
/// volume goes, named ones too; since then only anonymous ones unless `all`.
pub(super) async fn prune(c: Call) -> Reply {
    let f = VolumeFilters::parse(c.query().get("filters"), &["label", "label!", "all"])?;
    let all_by_default = c.api_version().is_some_and(|v| v < (1, 42));
    let (deleted, reclaimed) = c.d.volume_prune(&f, all_by_default).await?;
    ok_json(&VolumePruneResponse {
        volumes_deleted: deleted,
        space_reclaimed: reclaimed,
    })
}
