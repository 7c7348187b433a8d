//! `volume create`: the flags become the `POST /volumes/create` body the docker CLI sends
//! (driver `local` unless `-d`, `-o` options and labels as maps), and the name the daemon
//! answers with is printed: the one asked for, or the one it made up for an unnamed volume.

use crate::api::client::Client;
use crate::cli::network::{kv_map, validate_label};
use crate::wire::volume::{Volume, VolumeCreateRequest};
use clap::Args;

#[derive(Args, Debug, Clone, Default)]
pub struct CreateArgs {
    /// Specify volume driver name
    #[arg(short = 'd', long, default_value = "local")]
    pub driver: String,
    /// Specify volume name
    #[arg(long, hide = true, default_value = "")]
    pub name: String,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt")]
    pub opts: Vec<String>,
    /// Set metadata for a volume
    #[arg(long = "label", value_parser = validate_label)]
    pub labels: Vec<String>,
    #[arg(value_name = "VOLUME")]
    pub volume: Option<String>,
}

/// The body for these flags. As docker's, the name may come from `--name` or the argument but
/// not both, even when they agree.
pub fn create_request(a: &CreateArgs) -> Result<VolumeCreateRequest, String> {
    let name = match &a.volume {
        Some(_) if !a.name.is_empty() => {
            return Err("conflicting options: cannot specify a volume-name through both --name and as a positional arg".into());
        }
        Some(v) => v.clone(),
        None => a.name.clone(),
    };
    Ok(VolumeCreateRequest {
        driver: a.driver.clone(),
        driver_opts: kv_map(&a.opts),
        labels: kv_map(&a.labels),
        name,
    })
}

pub async fn create(client: &Client, a: CreateArgs) -> i32 {
    let request = match create_request(&a) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    match client
        .post_json::<Volume>("/volumes/create", &request)
        .await
    {
        Ok(v) => {
            println!("{}", v.name);
            0
        }
        Err(e) => crate::cli::network::fail(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(f: impl FnOnce(&mut CreateArgs)) -> CreateArgs {
        let mut a = CreateArgs {
            driver: "local".into(),
            ..Default::default()
        };
        f(&mut a);
        a
    }

    #[test]
    fn the_body_is_the_docker_clis_byte_for_byte() {
        // ../shared/docker-api/captures/14: `docker volume create v2`.
        let r = create_request(&args(|a| a.volume = Some("v2".into()))).unwrap();
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"Driver":"local","Name":"v2"}"#
        );
        let unnamed = create_request(&args(|_| {})).unwrap();
        assert_eq!(
            serde_json::to_string(&unnamed).unwrap(),
            r#"{"Driver":"local"}"#
        );
    }

    #[test]
    fn options_and_labels_are_maps() {
        let r = create_request(&args(|a| {
            a.name = "data".into();
            a.driver = "other".into();
            a.opts = vec![
                "type=tmpfs".into(),
                "o=size=1m,uid=1".into(),
                "device".into(),
            ];
            a.labels = vec!["team=db".into(), "empty".into()];
        }))
        .unwrap();
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"Driver":"other","DriverOpts":{"device":"","o":"size=1m,uid=1","type":"tmpfs"},"Labels":{"empty":"","team":"db"},"Name":"data"}"#
        );
    }

    #[test]
    fn a_name_given_twice_is_refused_as_docker_refuses_it() {
        for name in ["v1", "other"] {
            let a = args(|a| {
                a.name = name.into();
                a.volume = Some("v1".into());
            });
            assert_eq!(
                create_request(&a).unwrap_err(),
                "conflicting options: cannot specify a volume-name through both --name and as a positional arg"
            );
        }
    }
}
