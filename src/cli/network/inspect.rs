//! `network inspect`: each network's JSON as the daemon sent it, in one array indented the
//! way docker's `json.Indent` does (four spaces, the daemon's key order kept), or compact
//! with `--format json`, or through a Go template. A network that is not there is reported
//! after the others are printed, and the command exits 1, as docker's does.

use crate::api::client::Client;
use clap::Args;

#[derive(Args, Debug, Clone, Default)]
pub struct InspectArgs {
    /// Format output using a custom template: 'json', or a Go template
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// Verbose output for diagnostics
    #[arg(short = 'v', long)]
    pub verbose: bool,
    #[arg(required = true, value_name = "NETWORK")]
    pub networks: Vec<String>,
}

/// Go's `json.Indent(dst, src, "", indent)` (or `json.Compact` for an empty indent) over
/// JSON text: whitespace between tokens dropped, each element of an object or array on its
/// own line, `": "` after keys, empty `{}` and `[]` left closed; strings copied untouched.
pub fn go_indent(src: &[u8], indent: &str) -> String {
    let mut out = Vec::with_capacity(src.len() * 2);
    let mut depth = 0usize;
    let mut need_indent = false;
    let mut in_string = false;
    let mut escaped = false;
    let newline = |out: &mut Vec<u8>, depth: usize| {
        if !indent.is_empty() {
            out.push(b'\n');
            for _ in 0..depth {
                out.extend_from_slice(indent.as_bytes());
            }
        }
    };
    for &c in src {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
            continue;
        }
        if c.is_ascii_whitespace() {
            continue;
        }
        if need_indent && c != b'}' && c != b']' {
            need_indent = false;
            newline(&mut out, depth);
        }
        match c {
            b'"' => {
                in_string = true;
                out.push(c);
            }
            b'{' | b'[' => {
                out.push(c);
                depth += 1;
                need_indent = true;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if need_indent {
                    need_indent = false;
                } else {
                    newline(&mut out, depth);
                }
                out.push(c);
            }
            b',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            b':' => {
                out.push(c);
                if !indent.is_empty() {
                    out.push(b' ');
                }
            }
            _ => out.push(c),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What `inspect` prints on stdout for the networks found (`raw`, as the daemon sent them)
/// and the errors of rendering them, as docker's inspectors do.
pub fn render(raw: &[bytes::Bytes], format: Option<&str>) -> Result<(String, Vec<String>), String> {
    let joined = || {
        let mut all = b"[".to_vec();
        for (i, r) in raw.iter().enumerate() {
            if i > 0 {
                all.push(b',');
            }
            all.extend_from_slice(r);
        }
        all.push(b']');
        all
    };
    match format.unwrap_or("") {
        "" if raw.is_empty() => Ok(("[]\n".into(), vec![])),
        "" => Ok((format!("{}\n", go_indent(&joined(), "    ")), vec![])),
        "json" if raw.is_empty() => Ok(("[]\n".into(), vec![])),
        "json" => Ok((format!("{}\n", go_indent(&joined(), "")), vec![])),
        f => {
            let values = raw
                .iter()
                .map(|r| serde_json::from_slice(r))
                .collect::<Result<Vec<serde_json::Value>, _>>()
                .map_err(|e| format!("unable to read inspect data: {e}"))?;
            crate::cli::inspector::render_each(f, &values)
        }
    }
}

pub async fn inspect(client: &Client, a: InspectArgs) -> i32 {
    let verbose = if a.verbose { "?verbose=true" } else { "" };
    let paths = a
        .networks
        .iter()
        .map(|name| Ok(format!("/networks/{name}{verbose}")))
        .collect();
    crate::cli::inspector::inspect_each(client, paths, a.format.as_deref(), render).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Docker 20.10's answer for `GET /networks/n1` (../shared/docker-api/captures/23), with
    /// a container attached.
    const N1: &str = r#"{"Name":"n1","Id":"dfb14ce2fbbffdf96f89535b64bb921c1ded0057447c8dacae4b86aec1e1d9c0","Created":"2026-11-22T09:14:19.960793085Z","Scope":"local","Driver":"bridge","EnableIPv6":false,"IPAM":{"Driver":"default","Options":{},"Config":[{"Subnet":"172.18.0.0/16","Gateway":"172.18.0.1"}]},"Internal":false,"Attachable":false,"Ingress":false,"ConfigFrom":{"Network":""},"ConfigOnly":false,"Containers":{"4a1c":{"Name":"web","EndpointID":"e1","MacAddress":"02:42:ac:12:00:02","IPv4Address":"172.18.0.2/16","IPv6Address":""}},"Options":{},"Labels":{"a":"b \"quoted\", {braced}"}}
"#;

    fn from_resource() -> bytes::Bytes {
        let n = crate::wire::network::NetworkResource {
            name: "n2".into(),
            id: "f054c98917d3e3b6a3f68bf6d80b29e21188d6c8059ca74787503ce343cc789c".into(),
            driver: "bridge".into(),
            scope: "local".into(),
            ipam: crate::wire::network::Ipam {
                driver: "default".into(),
                options: Some(Default::default()),
                config: Some(vec![]),
            },
            ..Default::default()
        };
        serde_json::to_vec(&n).unwrap().into()
    }

    #[test]
    fn the_array_is_indented_as_docker_prints_it() {
        let (out, errs) = render(&[N1.into(), from_resource()], None).unwrap();
        assert!(errs.is_empty());
        insta::assert_snapshot!(out);
    }

    #[test]
    fn json_is_compact_and_nothing_is_an_empty_array() {
        let (out, _) = render(&[from_resource()], Some("json")).unwrap();
        assert!(out.starts_with(r#"[{"Name":"n2","Id":"f054"#), "{out}");
        assert!(out.ends_with("}]\n"));
        assert_eq!(render(&[], None).unwrap().0, "[]\n");
        assert_eq!(render(&[], Some("{{.Name}}")).unwrap().0, "\n");
    }

    #[test]
    fn templates_see_the_daemons_fields() {
        let (out, errs) = render(
            &[N1.into(), from_resource()],
            Some("{{.Name}} {{range .IPAM.Config}}{{.Subnet}}{{end}} {{len .Containers}}"),
        )
        .unwrap();
        assert_eq!(out, "n1 172.18.0.0/16 1\nn2  0\n");
        assert!(errs.is_empty());
        let (_, errs) = render(&[N1.into()], Some("{{.Nope}}")).unwrap();
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("template parsing error: "), "{errs:?}");
    }

    #[test]
    fn go_indent_matches_json_indent() {
        assert_eq!(
            go_indent(br#" {"a": [1, {"b":{}}, []], "s":"x , : {"} "#, "  "),
            "{\n  \"a\": [\n    1,\n    {\n      \"b\": {}\n    },\n    []\n  ],\n  \"s\": \"x , : {\"\n}"
        );
        assert_eq!(go_indent(b"{\"a\": \"\\\"\"}", ""), "{\"a\":\"\\\"\"}");
    }
}
