//! The event log behind `GET /events` and `berth events`: every change of a container's life
//! (create, start, die, destroy, kill, stop, pause, rename, exec_*, oom, ...) and of images,
//! as Docker reports them. Subscribers get new events as they happen; the most recent ones
//! are kept in memory so `--since` can replay them (the last 1024; Docker keeps 256).

pub use crate::wire::events::{Actor, Event};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use tokio::sync::broadcast;

const KEPT: usize = 1024;

pub struct Events {
    tx: broadcast::Sender<Event>,
    recent: Mutex<VecDeque<Event>>,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            tx: broadcast::channel(1024).0,
            recent: Mutex::new(VecDeque::with_capacity(KEPT)),
        }
    }
}

impl Events {
    pub fn emit(&self, event: Event) {
        let mut recent = self.recent.lock().unwrap();
        if recent.len() == KEPT {
            recent.pop_front();
        }
        recent.push_back(event.clone());
        // Sent under the lock, so a subscriber never sees an event both replayed and live.
        let _ = self.tx.send(event);
    }

    /// The kept events, and a receiver for every event after them.
    pub fn subscribe(&self) -> (Vec<Event>, broadcast::Receiver<Event>) {
        let recent = self.recent.lock().unwrap();
        (recent.iter().cloned().collect(), self.tx.subscribe())
    }
}

/// `filters` of `GET /events`: within a key, any value matches; every key must match.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct EventFilter {
    by_key: BTreeMap<String, Vec<String>>,
}

const KEYS: &[&str] = &[
    "container",
    "event",
    "type",
    "image",
    "label",
    "scope",
    "network",
    "volume",
    "daemon",
];

impl EventFilter {
    /// Docker's `{"key":["value",...]}` (or the older `{"key":{"value":true}}`).
    pub fn parse(json: &str) -> Result<EventFilter, String> {
        if json.trim().is_empty() {
            return Ok(EventFilter::default());
        }
        let map: BTreeMap<String, serde_json::Value> =
            serde_json::from_str(json).map_err(|e| format!("invalid filter {json:?}: {e}"))?;
        let mut by_key = BTreeMap::new();
        for (k, v) in map {
            if !KEYS.contains(&k.as_str()) {
                return Err(format!("invalid filter '{k}'"));
            }
            let values: Vec<String> = match v {
                serde_json::Value::Array(a) => a
                    .into_iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect(),
                serde_json::Value::Object(o) => o.into_iter().map(|(k, _)| k).collect(),
                _ => return Err(format!("invalid filter {json:?}")),
            };
            by_key.insert(k, values);
        }
        Ok(EventFilter { by_key })
    }

    pub fn matches(&self, e: &Event) -> bool {
        self.by_key.iter().all(|(key, values)| {
            values.iter().any(|v| match key.as_str() {
                "container" => {
                    e.typ == "container"
                        && (e.actor.id.starts_with(v.as_str())
                            || e.actor.attributes.get("name") == Some(v))
                }
                "event" => e.action == *v || e.action.split(':').next() == Some(v.as_str()),
                "type" => e.typ == *v,
                "image" => {
                    e.actor.attributes.get("image") == Some(v)
                        || (e.typ == "image" && (e.actor.id == *v || e.actor.id.starts_with(v)))
                }
                "label" => match v.split_once('=') {
                    Some((k, val)) => e.actor.attributes.get(k).map(String::as_str) == Some(val),
                    None => e.actor.attributes.contains_key(v),
                },
                "scope" => e.scope == *v,
                "network" | "volume" => e.typ == *key && e.actor.id == *v,
                _ => false,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started(name: &str, image: &str) -> Event {
        let mut a = BTreeMap::new();
        a.insert("name".to_string(), name.to_string());
        a.insert("image".to_string(), image.to_string());
        a.insert("team".to_string(), "blue".to_string());
        Event::new("container", "start", &format!("{name}0123456789"), a)
    }

    #[test]
    fn filters_select_like_dockers() {
        let e = started("web", "busybox");
        let f = |j: &str| EventFilter::parse(j).unwrap().matches(&e);
        assert!(f(""));
        assert!(f(r#"{"container":["web"]}"#));
        assert!(f(r#"{"container":["web0123"]}"#));
        assert!(!f(r#"{"container":["db"]}"#));
        assert!(f(r#"{"event":["stop","start"]}"#));
        assert!(!f(r#"{"event":["die"]}"#));
        assert!(f(r#"{"type":["container"],"image":["busybox"]}"#));
        assert!(f(r#"{"label":["team=blue"]}"#));
        assert!(f(r#"{"label":{"team":true}}"#));
        assert!(!f(r#"{"label":["team=red"]}"#));
        assert_eq!(
            EventFilter::parse(r#"{"colour":["x"]}"#).unwrap_err(),
            "invalid filter 'colour'"
        );
    }

    #[test]
    fn the_json_shape_is_dockers() {
        let mut e = started("web", "busybox");
        e.time = 1;
        e.time_nano = 1_000_000_001;
        insta::assert_snapshot!(serde_json::to_string(&e).unwrap());
    }

    #[test]
    fn only_the_latest_events_are_kept() {
        let ev = Events::default();
        for i in 0..KEPT + 10 {
            ev.emit(Event::new("image", "load", &i.to_string(), BTreeMap::new()));
        }
        let (past, _) = ev.subscribe();
        assert_eq!(past.len(), KEPT);
        assert_eq!(past[0].actor.id, "10");
    }
}
