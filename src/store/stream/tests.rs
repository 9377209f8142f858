//! Unit tests of the stream value: ID parsing, node boundaries, trimming,
//! radix-tree counts (checked against redis-server 7.0.15), lag and PELs.

use super::*;

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn id(ms: u64, seq: u64) -> StreamId {
    StreamId::new(ms, seq)
}

fn fill(n: u64, limits: NodeLimits) -> Stream {
    let mut s = Stream::new();
    for i in 1..=n {
        s.append(id(i, 0), &[b("f"), b("v")], limits);
    }
    s
}

#[test]
fn ids_parse_as_redis_does() {
    let p = |s: &str| parse_id(s.as_bytes(), 0, false, false).map(|p| p.id);
    assert_eq!(p("5"), Some(id(5, 0)));
    assert_eq!(p("5-3"), Some(id(5, 3)));
    assert_eq!(p("-"), Some(StreamId::ZERO));
    assert_eq!(p("+"), Some(StreamId::MAX));
    assert_eq!(p("18446744073709551615-18446744073709551615"), Some(StreamId::MAX));
    assert_eq!(p("18446744073709551616"), None);
    assert_eq!(p("1--1"), None);
    assert_eq!(p("+5"), Some(id(5, 0)));
    assert_eq!(p("007"), Some(id(7, 0)));
    assert_eq!(p(""), None);
    assert_eq!(p("1-"), None);
    assert_eq!(p("x"), None);
    assert_eq!(parse_id(b"-", 0, true, false), None);
    assert_eq!(parse_id(b"5-*", 0, true, true), Some(ParsedId { id: id(5, 0), seq_auto: true }));
    assert_eq!(parse_id(b"5-*", 0, true, false), None);
    assert_eq!(parse_id(b"5", u64::MAX, false, false).map(|p| p.id), Some(id(5, u64::MAX)));
}

#[test]
fn ids_step_and_wrap() {
    assert_eq!(id(1, u64::MAX).incr(), Some(id(2, 0)));
    assert_eq!(StreamId::MAX.incr(), None);
    assert_eq!(id(2, 0).decr(), Some(id(1, u64::MAX)));
    assert_eq!(StreamId::ZERO.decr(), None);
}

#[test]
fn nodes_split_at_max_entries_and_approx_trim_removes_whole_nodes() {
    let mut s = fill(250, NodeLimits::default());
    assert_eq!(s.radix_tree_keys(), 3);
    let t = Trim { strategy: TrimStrategy::MaxLen(120), approx: true, limit: 10_000 };
    assert_eq!(s.trim(&t), 100);
    assert_eq!(s.len(), 150);
    let exact = Trim { strategy: TrimStrategy::MaxLen(120), approx: false, limit: 0 };
    assert_eq!(s.trim(&exact), 30);
    assert_eq!(s.len(), 120);
    assert_eq!(s.first_id(), id(131, 0));
    // The partly trimmed node keeps its tombstones: still two nodes.
    assert_eq!(s.radix_tree_keys(), 2);
}

#[test]
fn big_entries_fill_nodes_by_bytes() {
    let mut s = Stream::new();
    let v = Bytes::from(vec![b'x'; 1000]);
    for i in 1..=10 {
        s.append(id(i, 0), &[b("f"), v.clone()], NodeLimits::default());
    }
    // 1000-byte values: four per 4096-byte node.
    assert_eq!(s.radix_tree_keys(), 3);
}

#[test]
fn xdel_of_a_nodes_last_live_entry_drops_the_node() {
    let mut s = fill(3, NodeLimits { max_bytes: 4096, max_entries: 2 });
    assert_eq!(s.radix_tree_keys(), 2);
    assert!(s.delete(id(3, 0)));
    assert_eq!(s.radix_tree_keys(), 1);
    assert_eq!(s.max_deleted, id(3, 0));
    assert!(!s.delete(id(3, 0)));
}

#[test]
fn radix_tree_node_counts() {
    let s = Stream::new();
    assert_eq!(s.radix_tree_nodes(), 1);
    let one = fill(1, NodeLimits::default());
    assert_eq!(one.radix_tree_nodes(), 2);
    let two = fill(3, NodeLimits { max_bytes: 4096, max_entries: 2 });
    // Keys 1-0 and 3-0 share 7 bytes, branch at byte 7, then each has 8 more bytes.
    assert_eq!(two.radix_tree_nodes(), 1 + 1 + 2 * 2);
}

#[test]
fn lag_and_entries_read_follow_7_0() {
    let mut s = fill(5, NodeLimits::default());
    let mut g = Group::new(StreamId::ZERO, INVALID_ENTRIES_READ);
    assert_eq!(s.lag(&g), Some(5));
    s.advance_group(&mut g, id(1, 0));
    assert_eq!((g.entries_read, s.lag(&g)), (1, Some(4)));
    s.advance_group(&mut g, id(2, 0));
    assert_eq!(g.entries_read, 2);
    s.delete(id(4, 0));
    // A tombstone ahead of the group: the lag is unknown.
    assert_eq!(s.lag(&g), None);
    s.advance_group(&mut g, id(3, 0));
    assert_eq!(g.entries_read, INVALID_ENTRIES_READ);
    s.advance_group(&mut g, id(5, 0));
    assert_eq!((g.entries_read, s.lag(&g)), (5, Some(0)));
}

#[test]
fn groups_move_pending_entries_between_consumers() {
    let mut g = Group::new(StreamId::ZERO, 0);
    let (a, c) = (b("a"), b("c"));
    g.create_consumer(&a, 1);
    g.create_consumer(&c, 1);
    assert_eq!(g.assign(id(1, 0), &a, 5).delivery_count, 1);
    g.assign(id(1, 0), &c, 6).delivery_count += 1;
    assert!(g.consumers[&a].pel.is_empty());
    assert_eq!(g.pel[&id(1, 0)], Nack { delivery_time: 5, delivery_count: 2, consumer: c.clone() });
    assert_eq!(g.delete_consumer(&c), Some(1));
    assert!(g.pel.is_empty());
    assert!(!g.ack(id(1, 0)));
}

#[test]
fn radix_tree_counts_match_redis_7_0_15() {
    // redis-server 7.0.15, stream-node-max-entries 2, XADD 1-0 .. 7-0:
    // radix-tree-keys 4, radix-tree-nodes 10; after XDEL 1-0 2-0: 3 and 8.
    let mut s = fill(7, NodeLimits { max_bytes: 4096, max_entries: 2 });
    assert_eq!((s.radix_tree_keys(), s.radix_tree_nodes()), (4, 10));
    s.delete(id(1, 0));
    s.delete(id(2, 0));
    assert_eq!((s.radix_tree_keys(), s.radix_tree_nodes()), (3, 8));
}
