//! e2e: `-o com.docker.network.bridge.enable_icc=false`: containers on the network still get
//! their addresses and names, but nothing passes between two of them; another network with
//! ICC on is untouched. Traffic goes only to the test's own containers.

mod common;

use common::{ip_on, run_on, text};

/// Whether `from` gets an answer to one ping of `to`.
fn pings(d: &common::TestDaemon, from: &str, to: &str) -> bool {
    let (_, _, code) = text(&d.berth(&["exec", from, "ping", "-c", "1", "-W", "1", to]));
    code == 0
}

#[test]
fn icc_off_keeps_containers_of_a_network_apart() {
    let d = daemon_or_skip!();
    d.load_busybox();

    // A value that is not a boolean is refused, and makes nothing.
    let (_, err, code) = text(&d.berth(&[
        "network",
        "create",
        "-o",
        "com.docker.network.bridge.enable_icc=maybe",
        "bad",
    ]));
    assert_ne!(code, 0);
    assert!(err.contains("enable_icc"), "{err}");
    assert!(!d.ok(&["network", "ls"]).contains("bad"));

    d.ok(&[
        "network",
        "create",
        "-o",
        "com.docker.network.bridge.enable_icc=false",
        "apart",
    ]);
    d.ok(&["network", "create", "together"]);
    let options = d.ok(&["network", "inspect", "-f", "{{json .Options}}", "apart"]);
    assert!(
        options.contains(r#""com.docker.network.bridge.enable_icc":"false""#),
        "{options}"
    );
    for (net, a, b) in [("apart", "a1", "a2"), ("together", "t1", "t2")] {
        run_on(&d, net, a, &[], &["sleep", "300"]);
        run_on(&d, net, b, &[], &["sleep", "300"]);
    }
    assert!(!pings(&d, "a1", &ip_on(&d, "a2", "apart")));
    assert!(pings(&d, "t1", &ip_on(&d, "t2", "together")));

    for name in ["a1", "a2", "t1", "t2"] {
        d.ok(&["rm", "-f", name]);
    }
    d.ok(&["network", "rm", "apart", "together"]);
}
