//! What the embedded server does with one query, decided without any I/O: answer it from the
//! name table (A; AAAA with the addresses of containers on IPv6 networks, none for the
//! others; PTR for IPv4 addresses; an empty NOERROR for any other type of a name that is
//! ours), refuse what is not a plain
//! query, or forward it. Names that are not ours are always forwarded, never answered
//! NXDOMAIN here: only upstream can say a name does not exist.

use std::net::Ipv4Addr;

use super::message::{Message, Rcode, Record, CLASS_IN, TYPE_A, TYPE_AAAA, TYPE_PTR};
use super::table::NameTable;

/// The TTL of our answers (Docker's): containers come and go, but not every second.
pub const TTL: u32 = 600;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Ours: send this.
    Reply(Message),
    /// Not ours: ask upstream.
    Forward,
    /// Not a query at all (a response, say): say nothing, or two servers could loop.
    Ignore,
}

/// The address a reverse name (`4.3.2.1.in-addr.arpa`) stands for, if it is one.
pub fn ptr_address(name: &str) -> Option<Ipv4Addr> {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    let rest = name.strip_suffix(".in-addr.arpa")?;
    let mut octets = [0u8; 4];
    let mut parts = rest.split('.');
    for slot in octets.iter_mut().rev() {
        let p = parts.next()?;
        // Decimal without leading zeros, as reverse names are written.
        if p.is_empty() || (p.len() > 1 && p.starts_with('0')) {
            return None;
        }
        *slot = p.parse().ok()?;
    }
    parts.next().is_none().then(|| Ipv4Addr::from(octets))
}

/// Decide what to do with `query`, sent by container `asker`.
pub fn decide(table: &NameTable, asker: &str, query: &Message) -> Decision {
    if query.header.response {
        return Decision::Ignore;
    }
    if query.header.opcode != 0 {
        return Decision::Reply(Message::reply(query, Rcode::NotImp));
    }
    let [q] = query.questions.as_slice() else {
        return Decision::Reply(Message::reply(query, Rcode::FormErr));
    };
    if q.qclass != CLASS_IN {
        return Decision::Forward;
    }
    let mut reply = Message::reply(query, Rcode::NoError);
    match q.qtype {
        TYPE_A => match table.lookup(asker, &q.name) {
            Some(ips) => {
                reply
                    .answers
                    .extend(ips.into_iter().map(|ip| Record::a(&q.name, ip, TTL)));
            }
            None => return Decision::Forward,
        },
        TYPE_AAAA => match table.lookup6(asker, &q.name) {
            Some(ips) => {
                reply
                    .answers
                    .extend(ips.into_iter().map(|ip| Record::aaaa(&q.name, ip, TTL)));
            }
            None => return Decision::Forward,
        },
        TYPE_PTR => {
            let found = ptr_address(&q.name).and_then(|ip| table.reverse(asker, ip));
            match found {
                Some(target) => reply.answers.push(Record::ptr(&q.name, &target, TTL)),
                None => return Decision::Forward,
            }
        }
        // MX, TXT, … of one of our names: the name exists, with no such record.
        _ => {
            if table.lookup(asker, &q.name).is_none() {
                return Decision::Forward;
            }
        }
    }
    Decision::Reply(reply)
}

#[cfg(test)]
mod tests {
    use super::super::message::RData;
    use super::*;

    fn table() -> NameTable {
        let t = NameTable::new();
        let ip = Ipv4Addr::new(172, 18, 0, 2);
        t.add("net", "web-id", vec!["web".into(), "webalias".into()], ip);
        t.add("net", "me", vec!["me".into()], Ipv4Addr::new(172, 18, 0, 3));
        t
    }

    fn reply(d: Decision) -> Message {
        match d {
            Decision::Reply(m) => m,
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    #[test]
    fn a_of_a_known_name_is_answered_with_the_question_as_asked() {
        let q = Message::query(5, "WebAlias", TYPE_A);
        let r = reply(decide(&table(), "me", &q));
        assert_eq!(r.header.rcode, Rcode::NoError);
        assert_eq!(r.questions, q.questions);
        assert_eq!(r.answers[0].name, "WebAlias");
        assert_eq!(r.answers[0].data, RData::A(Ipv4Addr::new(172, 18, 0, 2)));
    }

    #[test]
    fn aaaa_of_a_name_on_an_ipv6_network_is_its_v6_address() {
        let t = table();
        let v6: std::net::Ipv6Addr = "fd00:b6::2".parse().unwrap();
        t.add_linked(
            "net",
            "web-id",
            vec!["web".into()],
            Ipv4Addr::new(172, 18, 0, 2),
            Some(v6),
            vec![],
        );
        let r = reply(decide(&t, "me", &Message::query(1, "web", TYPE_AAAA)));
        assert_eq!(r.header.rcode, Rcode::NoError);
        assert_eq!(r.answers.len(), 1);
        assert_eq!(r.answers[0].data, RData::Aaaa(v6));
    }

    #[test]
    fn aaaa_without_a_v6_address_and_other_types_of_a_known_name_are_empty_noerror() {
        for qtype in [TYPE_AAAA, 15, 16] {
            let r = reply(decide(&table(), "me", &Message::query(1, "web", qtype)));
            assert_eq!(r.header.rcode, Rcode::NoError);
            assert!(r.answers.is_empty());
        }
    }

    #[test]
    fn unknown_names_and_strangers_are_forwarded() {
        let t = table();
        assert_eq!(
            decide(&t, "me", &Message::query(1, "example.org", TYPE_A)),
            Decision::Forward
        );
        assert_eq!(
            decide(&t, "stranger", &Message::query(1, "web", TYPE_A)),
            Decision::Forward
        );
        assert_eq!(
            decide(
                &t,
                "me",
                &Message::query(1, "9.9.9.9.in-addr.arpa", TYPE_PTR)
            ),
            Decision::Forward
        );
    }

    #[test]
    fn ptr_names_the_container() {
        let q = Message::query(1, "2.0.18.172.in-addr.arpa", TYPE_PTR);
        let r = reply(decide(&table(), "me", &q));
        assert_eq!(r.answers[0].data, RData::Ptr("web".into()));
    }

    #[test]
    fn reverse_names_are_read_strictly() {
        assert_eq!(
            ptr_address("4.3.2.1.IN-ADDR.ARPA."),
            Some(Ipv4Addr::new(1, 2, 3, 4))
        );
        for bad in [
            "3.2.1.in-addr.arpa",
            "5.4.3.2.1.in-addr.arpa",
            "04.3.2.1.in-addr.arpa",
            "256.3.2.1.in-addr.arpa",
            "4.3.2.1.ip6.arpa",
        ] {
            assert_eq!(ptr_address(bad), None, "{bad}");
        }
    }

    #[test]
    fn responses_are_ignored_and_odd_queries_refused() {
        let t = table();
        let mut resp = Message::query(1, "web", TYPE_A);
        resp.header.response = true;
        assert_eq!(decide(&t, "me", &resp), Decision::Ignore);
        let mut notify = Message::query(1, "web", TYPE_A);
        notify.header.opcode = 4;
        assert_eq!(reply(decide(&t, "me", &notify)).header.rcode, Rcode::NotImp);
        let mut two = Message::query(1, "web", TYPE_A);
        two.questions.push(two.questions[0].clone());
        assert_eq!(reply(decide(&t, "me", &two)).header.rcode, Rcode::FormErr);
    }
}
