//! An event of `GET /events`, in Docker's JSON shape: what the daemon's event log keeps and
//! broadcasts, and what `berth events` reads back and prints.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes")]
    pub attributes: BTreeMap<String, String>,
}

/// One event, in Docker's JSON shape (with the old `status`/`id`/`from` fields, which the
/// docker CLI's default output no longer reads but older clients do).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Event {
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub status: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub id: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub from: String,
    #[serde(rename = "Type")]
    pub typ: String,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    pub scope: String,
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

impl Event {
    pub fn new(typ: &str, action: &str, id: &str, attributes: BTreeMap<String, String>) -> Event {
        let now = chrono::Utc::now();
        let nanos = now.timestamp_nanos_opt().unwrap_or(0);
        let (status, legacy_id, from) = if typ == "container" {
            (
                action.to_string(),
                id.to_string(),
                attributes.get("image").cloned().unwrap_or_default(),
            )
        } else {
            (String::new(), String::new(), String::new())
        };
        Event {
            status,
            id: legacy_id,
            from,
            typ: typ.into(),
            action: action.into(),
            actor: Actor {
                id: id.into(),
                attributes,
            },
            scope: "local".into(),
            time: nanos / 1_000_000_000,
            time_nano: nanos,
        }
    }
}
