//! The encoder against the outside world.
//!
//! 1. The reference agent's real datagrams (tests/fixtures/hsflowd-2.1.25/, copied from the shared
//!    vectors) are decoded by an independent decoder (flowparser-sflow) and checked against the
//!    reference decoder's text (sflowtool), then rebuilt with our encoder and compared byte for
//!    byte.
//! 2. A datagram built by our encoder is decoded by flowparser-sflow, every field checked.
//!
//! flowparser-sflow does not check a record's length against its structure, so every record length
//! is also checked here against the structure table of sflow-wire.md, with a small raw walker.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use csflowd::host::HostSnapshot;
use csflowd::wire::{
    Adapter, CounterRecord, CounterSample, DataSource, DatagramHeader, HostAdapters, HostCpu,
    HostDescr, HostDiskIo, HostMemory, HostParent, Mib2, Mib2Icmp, Mib2Ip, Mib2Tcp, Mib2Udp, NetIo,
    VirtCpu, VirtDiskIo, VirtMemory, VirtNode, UNKNOWN_U32,
};
use flowparser_sflow::counter_records as fp;
use flowparser_sflow::{AddressType, SflowDatagram, SflowParser, SflowSample};

// --- the vectors -----------------------------------------------------------------------------

struct Vector {
    name: &'static str,
    bin: &'static [u8],
    text: &'static str,
}

macro_rules! vector {
    ($name:literal) => {
        Vector {
            name: $name,
            bin: include_bytes!(concat!("fixtures/hsflowd-2.1.25/", $name, ".bin")),
            text: include_str!(concat!("fixtures/hsflowd-2.1.25/", $name, ".sflowtool.txt")),
        }
    };
}

fn vectors() -> [Vector; 5] {
    [
        vector!("dg01"),
        vector!("dg02"),
        vector!("dg16"),
        vector!("dg22"),
        vector!("dg23"),
    ]
}

// --- the reference decoder's text ------------------------------------------------------------

/// sflowtool's reading of one datagram: header and sample lines, then one block per record.
struct SflowtoolText {
    header: BTreeMap<String, String>,
    /// (tag as "0:2000", the record's lines in order)
    records: Vec<(String, Vec<(String, String)>)>,
}

fn parse_sflowtool(text: &str) -> SflowtoolText {
    let mut header = BTreeMap::new();
    let mut records: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for line in text.lines() {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        let value = value.trim().to_string();
        if key == "counterBlock_tag" {
            records.push((value, Vec::new()));
        } else if key == "endSample" {
            break;
        } else if let Some((_, lines)) = records.last_mut() {
            lines.push((key.to_string(), value));
        } else {
            header.insert(key.to_string(), value);
        }
    }
    SflowtoolText { header, records }
}

impl SflowtoolText {
    /// The record blocks the independent decoder can read.
    fn decodable_records(&self) -> Vec<(String, Vec<(String, String)>)> {
        let undecodable = format!("0:{UNDECODABLE}");
        self.records
            .iter()
            .filter(|(tag, _)| *tag != undecodable)
            .cloned()
            .collect()
    }
}

// --- a raw walker, for record lengths and byte ranges ----------------------------------------

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap())
}

fn pad4(n: usize) -> usize {
    n.div_ceil(4) * 4
}

struct RawRecord {
    tag: u32,
    /// The whole record, tag and length included.
    range: Range<usize>,
}

/// Walks an IPv4 or IPv6 datagram of expanded counter samples, checking every framing length.
fn walk(dg: &[u8]) -> Vec<Vec<RawRecord>> {
    assert_eq!(be32(dg, 0), 5, "version");
    let header_len = match be32(dg, 4) {
        1 => 28,
        2 => 40,
        other => panic!("address type {other}"),
    };
    let num_samples = be32(dg, header_len - 4);
    let mut at = header_len;
    let mut samples = Vec::new();
    for _ in 0..num_samples {
        assert_eq!(be32(dg, at), 4, "expanded counter sample");
        let sample_len = be32(dg, at + 4) as usize;
        let sample_end = at + 8 + sample_len;
        let num_records = be32(dg, at + 20);
        let mut rec_at = at + 24;
        let mut records = Vec::new();
        for _ in 0..num_records {
            let tag = be32(dg, rec_at);
            let len = be32(dg, rec_at + 4) as usize;
            let body = rec_at + 8;
            assert_eq!(
                len,
                structure_len(tag, &dg[body..body + len]),
                "record {tag} length"
            );
            records.push(RawRecord {
                tag,
                range: rec_at..body + len,
            });
            rec_at = body + len;
        }
        assert_eq!(rec_at, sample_end, "sample length is 16 + its records");
        samples.push(records);
        at = sample_end;
    }
    assert_eq!(at, dg.len(), "the datagram holds exactly its samples");
    samples
}

/// The body length a record must have, from the structure table (sflow-wire.md §1.4).
fn structure_len(tag: u32, body: &[u8]) -> usize {
    match tag {
        2000 => {
            let hostname = be32(body, 0) as usize;
            assert!(hostname <= 64);
            let release_at = 4 + pad4(hostname) + 24;
            let release = be32(body, release_at) as usize;
            assert!(release <= 32);
            32 + pad4(hostname) + pad4(release)
        }
        2001 => {
            let mut len = 4;
            for _ in 0..be32(body, 0) {
                let macs = be32(body, len + 4) as usize;
                len += 8 + 8 * macs;
            }
            len
        }
        2002 => 8,
        2003 => 80,
        2004 => 72,
        2005 => 52,
        2006 => 40,
        2007 => 76,
        2008 => 100,
        2009 => 60,
        2010 => 28,
        2100 => 28,
        2101 => 12,
        2102 => 16,
        2103 => 52,
        2104 => 40,
        other => panic!("unexpected record {other}"),
    }
}

// --- the independent decoder -----------------------------------------------------------------

/// flowparser-sflow 0.3.0 reads 26 words for the MIB-II ICMP record 0:2008, which has 25 (100
/// bytes, as sflowtool and the structure table say), so it rejects dg01 as a whole. The vectors
/// are decoded without that record; this agent never sends it.
const UNDECODABLE: u32 = 2008;

/// A copy of a one-sample IPv4 datagram without its `UNDECODABLE` records, lengths adjusted.
fn without_undecodable(dg: &[u8]) -> Vec<u8> {
    let records = walk(dg).remove(0);
    let header_len = 28;
    let keep: Vec<&RawRecord> = records.iter().filter(|r| r.tag != UNDECODABLE).collect();
    let body_len: usize = 16 + keep.iter().map(|r| r.range.len()).sum::<usize>();
    let mut out = dg[..header_len + 4].to_vec();
    out.extend_from_slice(&(body_len as u32).to_be_bytes());
    out.extend_from_slice(&dg[header_len + 8..header_len + 20]);
    out.extend_from_slice(&(keep.len() as u32).to_be_bytes());
    for r in keep {
        out.extend_from_slice(&dg[r.range.clone()]);
    }
    walk(&out);
    out
}

fn decode(bytes: &[u8]) -> SflowDatagram {
    let result = SflowParser::default().parse_bytes(bytes);
    assert_eq!(result.error, None);
    assert_eq!(result.datagrams.len(), 1);
    result.datagrams.into_iter().next().unwrap()
}

fn expanded_counter_samples(
    dg: &SflowDatagram,
) -> Vec<&flowparser_sflow::samples::ExpandedCounterSample> {
    dg.samples
        .iter()
        .map(|s| match s {
            SflowSample::ExpandedCounter(s) => s,
            other => panic!("not an expanded counter sample: {other:?}"),
        })
        .collect()
}

/// The number flowparser-sflow decoded into one of its enums (inverting its `From<u32>`).
fn enum_number<T: From<u32> + PartialEq + std::fmt::Debug>(value: T) -> u32 {
    (0..=1024)
        .find(|&n| T::from(n) == value)
        .unwrap_or_else(|| panic!("{value:?}"))
}

fn fp_tag(record: &fp::CounterRecord) -> u32 {
    match record {
        fp::CounterRecord::HostDescr(_) => 2000,
        fp::CounterRecord::HostAdapters(_) => 2001,
        fp::CounterRecord::HostParent(_) => 2002,
        fp::CounterRecord::HostCpu(_) => 2003,
        fp::CounterRecord::HostMemory(_) => 2004,
        fp::CounterRecord::HostDiskIo(_) => 2005,
        fp::CounterRecord::HostNetIo(_) => 2006,
        fp::CounterRecord::Mib2IpGroup(_) => 2007,
        fp::CounterRecord::Mib2IcmpGroup(_) => 2008,
        fp::CounterRecord::Mib2TcpGroup(_) => 2009,
        fp::CounterRecord::Mib2UdpGroup(_) => 2010,
        fp::CounterRecord::VirtNode(_) => 2100,
        fp::CounterRecord::VirtCpu(_) => 2101,
        fp::CounterRecord::VirtMemory(_) => 2102,
        fp::CounterRecord::VirtDiskIo(_) => 2103,
        fp::CounterRecord::VirtNetIo(_) => 2104,
        other => panic!("unexpected record {other:?}"),
    }
}

fn uuid_text(bytes: &[u8; 16]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A decoded record in sflowtool's words (key, value), for the records the agent sends.
/// `None` for the MIB-II records, which this agent does not send. The three host_cpu extension
/// fields are missing: flowparser-sflow does not decode them.
fn sflowtool_lines(record: &fp::CounterRecord) -> Option<Vec<(String, String)>> {
    fn kv(pairs: &[(&str, String)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }
    let lines = match record {
        fp::CounterRecord::HostDescr(r) => kv(&[
            ("hostname", r.hostname.clone()),
            ("UUID", uuid_text(r.uuid.as_bytes())),
            ("machine_type", enum_number(r.machine_type).to_string()),
            ("os_name", enum_number(r.os_name).to_string()),
            ("os_release", r.os_release.clone()),
        ]),
        fp::CounterRecord::HostAdapters(r) => {
            let mut lines = Vec::new();
            for (i, a) in r.adapters.iter().enumerate() {
                lines.push((format!("adaptor_{i}_ifIndex"), a.if_index.to_string()));
                lines.push((
                    format!("adaptor_{i}_MACs"),
                    a.mac_addresses.len().to_string(),
                ));
                for (j, mac) in a.mac_addresses.iter().enumerate() {
                    let hex: String = mac.bytes().iter().map(|b| format!("{b:02x}")).collect();
                    lines.push((format!("adaptor_{i}_MAC_{j}"), hex));
                }
            }
            lines
        }
        fp::CounterRecord::HostParent(r) => kv(&[
            ("parent_dsClass", r.container_type.to_string()),
            ("parent_dsIndex", r.container_index.to_string()),
        ]),
        fp::CounterRecord::HostCpu(r) => kv(&[
            ("cpu_load_one", format!("{:.3}", r.load_one)),
            ("cpu_load_five", format!("{:.3}", r.load_five)),
            ("cpu_load_fifteen", format!("{:.3}", r.load_fifteen)),
            ("cpu_proc_run", r.proc_run.to_string()),
            ("cpu_proc_total", r.proc_total.to_string()),
            ("cpu_num", r.cpu_num.to_string()),
            ("cpu_speed", r.cpu_speed.to_string()),
            ("cpu_uptime", r.uptime.to_string()),
            ("cpu_user", r.cpu_user.to_string()),
            ("cpu_nice", r.cpu_nice.to_string()),
            ("cpu_system", r.cpu_system.to_string()),
            ("cpu_idle", r.cpu_idle.to_string()),
            ("cpu_wio", r.cpu_wio.to_string()),
            ("cpuintr", r.cpu_intr.to_string()),
            ("cpu_sintr", r.cpu_sintr.to_string()),
            ("cpuinterrupts", r.interrupts.to_string()),
            ("cpu_contexts", r.contexts.to_string()),
        ]),
        fp::CounterRecord::HostMemory(r) => kv(&[
            ("mem_total", r.mem_total.to_string()),
            ("mem_free", r.mem_free.to_string()),
            ("mem_shared", r.mem_shared.to_string()),
            ("mem_buffers", r.mem_buffers.to_string()),
            ("mem_cached", r.mem_cached.to_string()),
            ("swap_total", r.swap_total.to_string()),
            ("swap_free", r.swap_free.to_string()),
            ("page_in", r.page_in.to_string()),
            ("page_out", r.page_out.to_string()),
            ("swap_in", r.swap_in.to_string()),
            ("swap_out", r.swap_out.to_string()),
        ]),
        fp::CounterRecord::HostDiskIo(r) => kv(&[
            ("disk_total", r.disk_total.to_string()),
            ("disk_free", r.disk_free.to_string()),
            (
                "disk_partition_max_used",
                format!("{}.{:02}", r.part_max_used / 100, r.part_max_used % 100),
            ),
            ("disk_reads", r.reads.to_string()),
            ("disk_bytes_read", r.bytes_read.to_string()),
            ("disk_read_time", r.read_time.to_string()),
            ("disk_writes", r.writes.to_string()),
            ("disk_bytes_written", r.bytes_written.to_string()),
            ("disk_write_time", r.write_time.to_string()),
        ]),
        fp::CounterRecord::HostNetIo(r) => kv(&[
            ("nio_bytes_in", r.bytes_in.to_string()),
            ("nio_pkts_in", r.packets_in.to_string()),
            ("nio_errs_in", r.errs_in.to_string()),
            ("nio_drops_in", r.drops_in.to_string()),
            ("nio_bytes_out", r.bytes_out.to_string()),
            ("nio_pkts_out", r.packets_out.to_string()),
            ("nio_errs_out", r.errs_out.to_string()),
            ("nio_drops_out", r.drops_out.to_string()),
        ]),
        fp::CounterRecord::VirtNode(r) => kv(&[
            ("vnode_mhz", r.mhz.to_string()),
            ("vnode_cpus", r.cpus.to_string()),
            ("vnode_memory", r.memory.to_string()),
            ("vnode_memory_free", r.memory_free.to_string()),
            ("vnode_num_domains", r.num_domains.to_string()),
        ]),
        fp::CounterRecord::VirtCpu(r) => kv(&[
            ("vcpu_state", enum_number(r.state).to_string()),
            ("vcpu_cpu_mS", r.cpu_time.to_string()),
            ("vcpu_cpuCount", r.nr_virt_cpu.to_string()),
        ]),
        fp::CounterRecord::VirtMemory(r) => kv(&[
            ("vmem_memory", r.memory.to_string()),
            ("vmem_maxMemory", r.max_memory.to_string()),
        ]),
        fp::CounterRecord::VirtDiskIo(r) => kv(&[
            ("vdsk_capacity", r.capacity.to_string()),
            ("vdsk_allocation", r.allocation.to_string()),
            ("vdsk_available", r.available.to_string()),
            ("vdsk_rd_req", r.rd_req.to_string()),
            ("vdsk_rd_bytes", r.rd_bytes.to_string()),
            ("vdsk_wr_req", r.wr_req.to_string()),
            ("vdsk_wr_bytes", r.wr_bytes.to_string()),
            ("vdsk_errs", r.errs.to_string()),
        ]),
        fp::CounterRecord::VirtNetIo(r) => kv(&[
            ("vnio_bytes_in", r.rx_bytes.to_string()),
            ("vnio_pkts_in", r.rx_packets.to_string()),
            ("vnio_errs_in", r.rx_errs.to_string()),
            ("vnio_drops_in", r.rx_drop.to_string()),
            ("vnio_bytes_out", r.tx_bytes.to_string()),
            ("vnio_pkts_out", r.tx_packets.to_string()),
            ("vnio_errs_out", r.tx_errs.to_string()),
            ("vnio_drops_out", r.tx_drop.to_string()),
        ]),
        _ => return None,
    };
    Some(lines)
}

const HOST_CPU_EXTENSION: [&str; 3] = ["cpu_steal", "cpu_guest", "cpu_guest_nice"];

// --- from decoded values back to our representation ------------------------------------------

/// What our records borrow, owned: one entry per decoded record.
enum Owned {
    HostDescr(String, [u8; 16], u32, u32, String),
    HostAdapters(Vec<Adapter>),
    Plain(CounterRecord<'static>),
}

/// Our representation of a decoded record; `text` supplies the three host_cpu extension fields.
/// `None` for records this agent does not send.
fn to_owned_record(record: &fp::CounterRecord, text: &[(String, String)]) -> Option<Owned> {
    let text_u32 = |key: &str| -> u32 {
        let (_, v) = text.iter().find(|(k, _)| k == key).unwrap();
        v.parse().unwrap()
    };
    Some(match record {
        fp::CounterRecord::HostDescr(r) => Owned::HostDescr(
            r.hostname.clone(),
            *r.uuid.as_bytes(),
            enum_number(r.machine_type),
            enum_number(r.os_name),
            r.os_release.clone(),
        ),
        fp::CounterRecord::HostAdapters(r) => Owned::HostAdapters(
            r.adapters
                .iter()
                .map(|a| {
                    assert!(
                        a.mac_addresses.len() <= 1,
                        "this agent sends at most one MAC"
                    );
                    Adapter {
                        if_index: a.if_index,
                        mac: a.mac_addresses.first().map(|m| m.bytes()),
                    }
                })
                .collect(),
        ),
        fp::CounterRecord::HostParent(r) => Owned::Plain(CounterRecord::HostParent(HostParent {
            container_type: r.container_type,
            container_index: r.container_index,
        })),
        fp::CounterRecord::HostCpu(r) => Owned::Plain(CounterRecord::HostCpu(HostCpu {
            load_one: r.load_one,
            load_five: r.load_five,
            load_fifteen: r.load_fifteen,
            proc_run: r.proc_run,
            proc_total: r.proc_total,
            cpu_num: r.cpu_num,
            cpu_speed: r.cpu_speed,
            uptime: r.uptime,
            cpu_user: r.cpu_user,
            cpu_nice: r.cpu_nice,
            cpu_system: r.cpu_system,
            cpu_idle: r.cpu_idle,
            cpu_wio: r.cpu_wio,
            cpu_intr: r.cpu_intr,
            cpu_sintr: r.cpu_sintr,
            interrupts: r.interrupts,
            contexts: r.contexts,
            cpu_steal: text_u32("cpu_steal"),
            cpu_guest: text_u32("cpu_guest"),
            cpu_guest_nice: text_u32("cpu_guest_nice"),
        })),
        fp::CounterRecord::HostMemory(r) => Owned::Plain(CounterRecord::HostMemory(HostMemory {
            mem_total: r.mem_total,
            mem_free: r.mem_free,
            mem_shared: r.mem_shared,
            mem_buffers: r.mem_buffers,
            mem_cached: r.mem_cached,
            swap_total: r.swap_total,
            swap_free: r.swap_free,
            page_in: r.page_in,
            page_out: r.page_out,
            swap_in: r.swap_in,
            swap_out: r.swap_out,
        })),
        fp::CounterRecord::HostDiskIo(r) => Owned::Plain(CounterRecord::HostDiskIo(HostDiskIo {
            disk_total: r.disk_total,
            disk_free: r.disk_free,
            part_max_used: r.part_max_used as i32,
            reads: r.reads,
            bytes_read: r.bytes_read,
            read_time: r.read_time,
            writes: r.writes,
            bytes_written: r.bytes_written,
            write_time: r.write_time,
        })),
        fp::CounterRecord::HostNetIo(r) => Owned::Plain(CounterRecord::HostNetIo(NetIo {
            bytes_in: r.bytes_in,
            pkts_in: r.packets_in,
            errs_in: r.errs_in,
            drops_in: r.drops_in,
            bytes_out: r.bytes_out,
            pkts_out: r.packets_out,
            errs_out: r.errs_out,
            drops_out: r.drops_out,
        })),
        fp::CounterRecord::VirtNode(r) => Owned::Plain(CounterRecord::VirtNode(VirtNode {
            mhz: r.mhz,
            cpus: r.cpus,
            memory: r.memory,
            memory_free: r.memory_free,
            num_domains: r.num_domains,
        })),
        fp::CounterRecord::VirtCpu(r) => Owned::Plain(CounterRecord::VirtCpu(VirtCpu {
            state: enum_number(r.state),
            cpu_time_ms: r.cpu_time,
            nr_virt_cpu: r.nr_virt_cpu,
        })),
        fp::CounterRecord::VirtMemory(r) => Owned::Plain(CounterRecord::VirtMemory(VirtMemory {
            memory: r.memory,
            max_memory: r.max_memory,
        })),
        fp::CounterRecord::VirtDiskIo(r) => Owned::Plain(CounterRecord::VirtDiskIo(VirtDiskIo {
            capacity: r.capacity,
            allocation: r.allocation,
            available: r.available,
            rd_req: r.rd_req,
            rd_bytes: r.rd_bytes,
            wr_req: r.wr_req,
            wr_bytes: r.wr_bytes,
            errs: r.errs,
        })),
        fp::CounterRecord::VirtNetIo(r) => Owned::Plain(CounterRecord::VirtNetIo(NetIo {
            bytes_in: r.rx_bytes,
            pkts_in: r.rx_packets,
            errs_in: r.rx_errs,
            drops_in: r.rx_drop,
            bytes_out: r.tx_bytes,
            pkts_out: r.tx_packets,
            errs_out: r.tx_errs,
            drops_out: r.tx_drop,
        })),
        _ => return None,
    })
}

impl Owned {
    fn record(&self) -> CounterRecord<'_> {
        match self {
            Owned::HostDescr(hostname, uuid, machine_type, os_name, os_release) => {
                CounterRecord::HostDescr(HostDescr {
                    hostname,
                    uuid: *uuid,
                    machine_type: *machine_type,
                    os_name: *os_name,
                    os_release,
                })
            }
            Owned::HostAdapters(adapters) => CounterRecord::HostAdapters(HostAdapters { adapters }),
            Owned::Plain(record) => *record,
        }
    }
}

fn emit_record(record: &CounterRecord) -> Vec<u8> {
    let mut buf = vec![0xa5; record.encoded_len()];
    let mut w = csflowd::wire::Writer::new(&mut buf);
    record.emit(&mut w).unwrap();
    assert_eq!(w.written(), buf.len());
    buf
}

fn agent_header(dg: &SflowDatagram) -> DatagramHeader {
    DatagramHeader {
        agent: match &dg.agent_address {
            AddressType::IPv4(a) => IpAddr::V4(*a),
            AddressType::IPv6(a) => IpAddr::V6(*a),
        },
        sub_agent_id: dg.sub_agent_id,
        sequence: dg.sequence_number,
        uptime_ms: dg.uptime,
        num_samples: dg.samples.len() as u32,
    }
}

// --- the tests ---------------------------------------------------------------------------------

#[test]
fn every_vector_record_has_its_structure_length() {
    for v in vectors() {
        let samples = walk(v.bin);
        assert_eq!(samples.len(), 1, "{}", v.name);
    }
}

#[test]
fn independent_decoder_agrees_with_the_reference_decoder() {
    for v in vectors() {
        let text = parse_sflowtool(v.text);
        let dg = decode(&without_undecodable(v.bin));
        let h = &text.header;
        assert_eq!(h["datagramSize"], v.bin.len().to_string(), "{}", v.name);
        assert_eq!(h["datagramVersion"], dg.version.to_string());
        assert_eq!(h["agentSubId"], dg.sub_agent_id.to_string());
        assert_eq!(h["agent"], "192.0.2.2");
        assert_eq!(
            dg.agent_address,
            AddressType::IPv4(Ipv4Addr::new(192, 0, 2, 2))
        );
        assert_eq!(h["packetSequenceNo"], dg.sequence_number.to_string());
        assert_eq!(h["sysUpTime"], dg.uptime.to_string());
        assert_eq!(h["samplesInPacket"], dg.samples.len().to_string());
        assert_eq!(h["sampleType_tag"], "0:4");

        let samples = expanded_counter_samples(&dg);
        let sample = samples[0];
        assert_eq!(h["sampleSequenceNo"], sample.sequence_number.to_string());
        assert_eq!(
            h["sourceId"],
            format!("{}:{}", sample.source_id_type, sample.source_id_index)
        );

        // The same record set, in the same order.
        let tags: Vec<String> = sample
            .records
            .iter()
            .map(|r| format!("0:{}", fp_tag(r)))
            .collect();
        let text_records = text.decodable_records();
        let text_tags: Vec<String> = text_records.iter().map(|(t, _)| t.clone()).collect();
        assert_eq!(tags, text_tags, "{}", v.name);

        // The same values, field by field.
        for (record, (tag, text_lines)) in sample.records.iter().zip(&text_records) {
            let Some(lines) = sflowtool_lines(record) else {
                continue;
            };
            let mut expected: Vec<(String, String)> = text_lines.clone();
            if tag == "0:2003" {
                expected.retain(|(k, _)| !HOST_CPU_EXTENSION.contains(&k.as_str()));
            }
            assert_eq!(lines, expected, "{} record {tag}", v.name);
        }
    }
}

#[test]
fn container_samples_are_rebuilt_byte_for_byte() {
    let mut stale_padding = Vec::new();
    for v in vectors().into_iter().filter(|v| v.name != "dg01") {
        let text = parse_sflowtool(v.text);
        let dg = decode(v.bin);
        let sample = expanded_counter_samples(&dg)[0];
        let owned: Vec<Owned> = sample
            .records
            .iter()
            .zip(&text.records)
            .map(|(r, (_, lines))| to_owned_record(r, lines).expect("a container record"))
            .collect();
        let records: Vec<CounterRecord> = owned.iter().map(Owned::record).collect();
        let ours = CounterSample {
            sequence: sample.sequence_number,
            source: DataSource {
                class: sample.source_id_type,
                index: sample.source_id_index,
            },
            records: &records,
        };
        let header = agent_header(&dg);

        // As the agent does: the sample after a reserved header, the header last.
        let mut buf = [0xa5u8; 1400];
        let header_len = header.header_len();
        let sample_len = ours.emit(&mut buf[header_len..]).unwrap();
        assert_eq!(header.emit(&mut buf).unwrap(), header_len);
        let ours = &buf[..header_len + sample_len];

        // hsflowd shortcoming 14: the padding after the hostname is not zeroed and may hold stale
        // bytes of an earlier, longer name ("hsf-b" followed by "2\0\0", left over from
        // "hsf-a2"). Ours is zeros: compare with that padding zeroed, and check that this padding
        // is the only place where the vector differs.
        let descr = walk(v.bin)
            .remove(0)
            .into_iter()
            .find(|r| r.tag == 2000)
            .unwrap();
        let name_len = be32(v.bin, descr.range.start + 8) as usize;
        let padding = descr.range.start + 12 + name_len..descr.range.start + 12 + pad4(name_len);
        let mut zeroed = v.bin.to_vec();
        zeroed[padding.clone()].fill(0);
        assert_eq!(ours, &zeroed[..], "{}", v.name);

        let differing: Vec<usize> = (0..v.bin.len()).filter(|&i| v.bin[i] != ours[i]).collect();
        let stale: Vec<usize> = padding.clone().filter(|&i| v.bin[i] != 0).collect();
        assert_eq!(differing, stale, "{}", v.name);
        stale_padding.push((v.name, v.bin[padding].to_vec()));
    }
    // dg02 is clean; dg16 (as documented) and also dg22 and dg23 carry a stale "2".
    assert_eq!(
        stale_padding,
        [
            ("dg02", b"\0\0\0".to_vec()),
            ("dg16", b"2\0\0".to_vec()),
            ("dg22", b"2\0\0".to_vec()),
            ("dg23", b"2\0\0".to_vec()),
        ]
    );
}

#[test]
fn host_records_are_rebuilt_byte_for_byte() {
    let v = vector!("dg01");
    let text = parse_sflowtool(v.text).decodable_records();
    let dg = decode(&without_undecodable(v.bin));
    let sample = expanded_counter_samples(&dg)[0];
    let raw = walk(v.bin).remove(0);
    let raw: Vec<&RawRecord> = raw.iter().filter(|r| r.tag != UNDECODABLE).collect();
    assert_eq!(raw.len(), sample.records.len());

    let mut rebuilt = Vec::new();
    for ((record, (_, lines)), raw) in sample.records.iter().zip(&text).zip(raw) {
        let Some(owned) = to_owned_record(record, lines) else {
            assert!(
                [2007, 2009, 2010].contains(&raw.tag),
                "only MIB-II records are skipped"
            );
            continue;
        };
        let ours = emit_record(&owned.record());
        assert_eq!(ours, v.bin[raw.range.clone()], "record {}", raw.tag);
        rebuilt.push(raw.tag);
    }
    assert_eq!(rebuilt, [2100, 2001, 2005, 2004, 2003, 2006, 2000]);
}

/// The MIB-II records of the reference agent's host sample, rebuilt from the values sflowtool
/// printed, in its order: same tag, same length, same bytes. 2008 included, which the independent
/// decoder cannot read.
#[test]
fn mib2_records_are_rebuilt_byte_for_byte() {
    let v = vector!("dg01");
    let raw = walk(v.bin).remove(0);
    let text = v.text;
    let values_of = |tag: &str| -> Vec<u32> {
        let mut lines = text
            .lines()
            .skip_while(|l| *l != format!("counterBlock_tag 0:{tag}"));
        lines.next();
        lines
            .take_while(|l| !l.starts_with("counterBlock_tag"))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<u32>().unwrap())
            .collect()
    };
    let mut seen = 0;
    for r in raw.iter().filter(|r| (2007..=2010).contains(&r.tag)) {
        let values = values_of(&r.tag.to_string());
        let record = match r.tag {
            2007 => CounterRecord::Mib2Ip(Mib2Ip(values.clone().try_into().unwrap())),
            2008 => CounterRecord::Mib2Icmp(Mib2Icmp(values.clone().try_into().unwrap())),
            2009 => CounterRecord::Mib2Tcp(Mib2Tcp(values.clone().try_into().unwrap())),
            _ => CounterRecord::Mib2Udp(Mib2Udp(values.clone().try_into().unwrap())),
        };
        assert_eq!(
            emit_record(&record),
            v.bin[r.range.clone()],
            "record {}",
            r.tag
        );
        seen += 1;
    }
    assert_eq!(seen, 4);
}

// --- round trip --------------------------------------------------------------------------------

const HOSTNAME_TOO_LONG: &str =
    "a-host-name-that-is-longer-than-sixty-four-bytes-and-ends-in-acé-char";

/// A host whose every field has a distinct value; its records come from the agent's own builder
/// ([`HostSnapshot::sample_records`]), the one the agent sends.
fn host_snapshot(adapters: &[Adapter]) -> HostSnapshot {
    HostSnapshot {
        hostname: HOSTNAME_TOO_LONG.to_string(),
        uuid: [
            0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87, 0x98, 0xa9, 0xba, 0xcb, 0xdc, 0xed,
            0xfe, 0x0f,
        ],
        machine_type: 10,
        os_name: 2,
        os_release: "6.1.0-18-cloud-amd64".to_string(),
        adapters: adapters.to_vec(),
        cpu: HostCpu {
            load_one: 1.25,
            load_five: 0.5,
            load_fifteen: -1.0,
            proc_run: 101,
            proc_total: 102,
            cpu_num: 103,
            cpu_speed: 104,
            uptime: 105,
            cpu_user: 106,
            cpu_nice: 107,
            cpu_system: 108,
            cpu_idle: 109,
            cpu_wio: 110,
            cpu_intr: 111,
            cpu_sintr: 112,
            interrupts: 113,
            contexts: 114,
            cpu_steal: 115,
            cpu_guest: 116,
            cpu_guest_nice: 117,
        },
        memory: HostMemory {
            mem_total: 0x1_0000_0201,
            mem_free: 0x1_0000_0202,
            mem_shared: 0x1_0000_0203,
            mem_buffers: 0x1_0000_0204,
            mem_cached: 0x1_0000_0205,
            swap_total: 0x1_0000_0206,
            swap_free: 0x1_0000_0207,
            page_in: 208,
            page_out: 209,
            swap_in: 210,
            swap_out: 211,
        },
        disk: HostDiskIo {
            disk_total: 0x2_0000_0301,
            disk_free: 0x2_0000_0302,
            part_max_used: 9999,
            reads: 304,
            bytes_read: 0x2_0000_0305,
            read_time: 306,
            writes: 307,
            bytes_written: 0x2_0000_0308,
            write_time: 309,
        },
        net: NetIo {
            bytes_in: 0x3_0000_0401,
            pkts_in: 402,
            errs_in: 403,
            drops_in: 404,
            bytes_out: 0x3_0000_0405,
            pkts_out: 406,
            errs_out: 407,
            drops_out: 408,
        },
        node: VirtNode {
            mhz: 501,
            cpus: 502,
            memory: 0x4_0000_0503,
            memory_free: 0x4_0000_0504,
            num_domains: UNKNOWN_U32,
        },
        mib2: Mib2 {
            ip: Mib2Ip(std::array::from_fn(|i| 600 + i as u32)),
            icmp: Mib2Icmp(std::array::from_fn(|i| 700 + i as u32)),
            tcp: Mib2Tcp(std::array::from_fn(|i| 800 + i as u32)),
            udp: Mib2Udp(std::array::from_fn(|i| 900 + i as u32)),
        },
    }
}

fn container_records() -> [CounterRecord<'static>; 7] {
    [
        CounterRecord::HostDescr(HostDescr {
            hostname: "web \"front\" \\ é",
            uuid: [0xee; 16],
            machine_type: 3,
            os_name: 2,
            os_release: "",
        }),
        CounterRecord::HostAdapters(HostAdapters { adapters: &[] }),
        CounterRecord::HostParent(HostParent {
            container_type: 2,
            container_index: 1,
        }),
        CounterRecord::VirtCpu(VirtCpu {
            state: 3,
            cpu_time_ms: 601,
            nr_virt_cpu: 602,
        }),
        CounterRecord::VirtMemory(VirtMemory {
            memory: 0x5_0000_0701,
            max_memory: 0x5_0000_0702,
        }),
        CounterRecord::VirtDiskIo(VirtDiskIo {
            capacity: 0x6_0000_0801,
            allocation: 0x6_0000_0802,
            available: 0x6_0000_0803,
            rd_req: 804,
            rd_bytes: 0x6_0000_0805,
            wr_req: 806,
            wr_bytes: 0x6_0000_0807,
            errs: 808,
        }),
        CounterRecord::VirtNetIo(NetIo {
            bytes_in: 0x7_0000_0901,
            pkts_in: 902,
            errs_in: 903,
            drops_in: 904,
            bytes_out: 0x7_0000_0905,
            pkts_out: 906,
            errs_out: 907,
            drops_out: 908,
        }),
    ]
}

/// Encodes header + samples the way the agent does: samples after a reserved header, header last.
fn encode_datagram(header: &DatagramHeader, samples: &[CounterSample]) -> Vec<u8> {
    let mut buf = [0xa5u8; 1400];
    let mut at = header.header_len();
    for sample in samples {
        at += sample.emit(&mut buf[at..]).unwrap();
    }
    assert_eq!(header.emit(&mut buf).unwrap(), header.header_len());
    buf[..at].to_vec()
}

/// Checks a decoded record against the one we encoded, field by field.
fn assert_same_record(ours: &CounterRecord, theirs: &fp::CounterRecord) {
    match (ours, theirs) {
        (CounterRecord::HostDescr(o), fp::CounterRecord::HostDescr(t)) => {
            assert_eq!(t.hostname, csflowd::wire::cut_str(o.hostname, 64));
            assert_eq!(t.uuid.as_bytes(), &o.uuid);
            assert_eq!(enum_number(t.machine_type), o.machine_type);
            assert_eq!(enum_number(t.os_name), o.os_name);
            assert_eq!(t.os_release, o.os_release);
        }
        (CounterRecord::HostAdapters(o), fp::CounterRecord::HostAdapters(t)) => {
            assert_eq!(t.adapters.len(), o.adapters.len());
            for (oa, ta) in o.adapters.iter().zip(&t.adapters) {
                assert_eq!(ta.if_index, oa.if_index);
                let macs: Vec<[u8; 6]> = ta.mac_addresses.iter().map(|m| m.bytes()).collect();
                assert_eq!(macs, oa.mac.into_iter().collect::<Vec<_>>());
            }
        }
        (CounterRecord::HostParent(o), fp::CounterRecord::HostParent(t)) => {
            assert_eq!(
                (t.container_type, t.container_index),
                (o.container_type, o.container_index)
            );
        }
        (CounterRecord::HostCpu(o), fp::CounterRecord::HostCpu(t)) => {
            assert_eq!(
                [t.load_one, t.load_five, t.load_fifteen].map(f32::to_bits),
                [o.load_one, o.load_five, o.load_fifteen].map(f32::to_bits)
            );
            assert_eq!(
                [
                    t.proc_run,
                    t.proc_total,
                    t.cpu_num,
                    t.cpu_speed,
                    t.uptime,
                    t.cpu_user,
                    t.cpu_nice,
                    t.cpu_system,
                    t.cpu_idle,
                    t.cpu_wio,
                    t.cpu_intr,
                    t.cpu_sintr,
                    t.interrupts,
                    t.contexts
                ],
                [
                    o.proc_run,
                    o.proc_total,
                    o.cpu_num,
                    o.cpu_speed,
                    o.uptime,
                    o.cpu_user,
                    o.cpu_nice,
                    o.cpu_system,
                    o.cpu_idle,
                    o.cpu_wio,
                    o.cpu_intr,
                    o.cpu_sintr,
                    o.interrupts,
                    o.contexts
                ]
            );
            // The three extension fields are checked on the raw bytes by the caller.
        }
        (CounterRecord::HostMemory(o), fp::CounterRecord::HostMemory(t)) => {
            assert_eq!(
                [
                    t.mem_total,
                    t.mem_free,
                    t.mem_shared,
                    t.mem_buffers,
                    t.mem_cached,
                    t.swap_total,
                    t.swap_free
                ],
                [
                    o.mem_total,
                    o.mem_free,
                    o.mem_shared,
                    o.mem_buffers,
                    o.mem_cached,
                    o.swap_total,
                    o.swap_free
                ]
            );
            assert_eq!(
                [t.page_in, t.page_out, t.swap_in, t.swap_out],
                [o.page_in, o.page_out, o.swap_in, o.swap_out]
            );
        }
        (CounterRecord::HostDiskIo(o), fp::CounterRecord::HostDiskIo(t)) => {
            assert_eq!(
                [t.disk_total, t.disk_free, t.bytes_read, t.bytes_written],
                [o.disk_total, o.disk_free, o.bytes_read, o.bytes_written]
            );
            assert_eq!(t.part_max_used as i32, o.part_max_used);
            assert_eq!(
                [t.reads, t.read_time, t.writes, t.write_time],
                [o.reads, o.read_time, o.writes, o.write_time]
            );
        }
        (CounterRecord::HostNetIo(o), fp::CounterRecord::HostNetIo(t)) => {
            assert_eq!([t.bytes_in, t.bytes_out], [o.bytes_in, o.bytes_out]);
            assert_eq!(
                [
                    t.packets_in,
                    t.errs_in,
                    t.drops_in,
                    t.packets_out,
                    t.errs_out,
                    t.drops_out
                ],
                [
                    o.pkts_in,
                    o.errs_in,
                    o.drops_in,
                    o.pkts_out,
                    o.errs_out,
                    o.drops_out
                ]
            );
        }
        (CounterRecord::VirtNode(o), fp::CounterRecord::VirtNode(t)) => {
            assert_eq!(
                [t.mhz, t.cpus, t.num_domains],
                [o.mhz, o.cpus, o.num_domains]
            );
            assert_eq!([t.memory, t.memory_free], [o.memory, o.memory_free]);
        }
        (CounterRecord::VirtCpu(o), fp::CounterRecord::VirtCpu(t)) => {
            assert_eq!(
                [enum_number(t.state), t.cpu_time, t.nr_virt_cpu],
                [o.state, o.cpu_time_ms, o.nr_virt_cpu]
            );
        }
        (CounterRecord::VirtMemory(o), fp::CounterRecord::VirtMemory(t)) => {
            assert_eq!([t.memory, t.max_memory], [o.memory, o.max_memory]);
        }
        (CounterRecord::VirtDiskIo(o), fp::CounterRecord::VirtDiskIo(t)) => {
            assert_eq!(
                [
                    t.capacity,
                    t.allocation,
                    t.available,
                    t.rd_bytes,
                    t.wr_bytes
                ],
                [
                    o.capacity,
                    o.allocation,
                    o.available,
                    o.rd_bytes,
                    o.wr_bytes
                ]
            );
            assert_eq!([t.rd_req, t.wr_req, t.errs], [o.rd_req, o.wr_req, o.errs]);
        }
        (CounterRecord::VirtNetIo(o), fp::CounterRecord::VirtNetIo(t)) => {
            assert_eq!([t.rx_bytes, t.tx_bytes], [o.bytes_in, o.bytes_out]);
            assert_eq!(
                [
                    t.rx_packets,
                    t.rx_errs,
                    t.rx_drop,
                    t.tx_packets,
                    t.tx_errs,
                    t.tx_drop
                ],
                [
                    o.pkts_in,
                    o.errs_in,
                    o.drops_in,
                    o.pkts_out,
                    o.errs_out,
                    o.drops_out
                ]
            );
        }
        (CounterRecord::Mib2Ip(o), fp::CounterRecord::Mib2IpGroup(t)) => {
            assert_eq!(
                [
                    t.ip_forwarding,
                    t.ip_default_ttl,
                    t.ip_in_receives,
                    t.ip_frag_creates
                ],
                [o.0[0], o.0[1], o.0[2], o.0[18]]
            );
        }
        (CounterRecord::Mib2Tcp(o), fp::CounterRecord::Mib2TcpGroup(t)) => {
            assert_eq!(
                [
                    t.tcp_rto_algorithm,
                    t.tcp_max_conn,
                    t.tcp_in_segs,
                    t.tcp_in_csum_errs
                ],
                [o.0[0], o.0[3], o.0[9], o.0[14]]
            );
        }
        (CounterRecord::Mib2Udp(o), fp::CounterRecord::Mib2UdpGroup(t)) => {
            assert_eq!(
                [
                    t.udp_in_datagrams,
                    t.udp_no_ports,
                    t.udp_in_errors,
                    t.udp_out_datagrams,
                    t.udp_rcvbuf_errors,
                    t.udp_sndbuf_errors,
                    t.udp_in_csum_errors
                ],
                o.0
            );
        }
        (o, t) => panic!("{} decoded as {t:?}", o.name()),
    }
}

fn round_trip(agent: IpAddr) {
    let adapters = [
        Adapter {
            if_index: 2,
            mac: Some([0x02, 0x42, 0xac, 0x11, 0x00, 0x02]),
        },
        Adapter {
            if_index: 3,
            mac: None,
        },
        Adapter {
            if_index: 4,
            mac: Some([0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54]),
        },
    ];
    let snapshot = host_snapshot(&adapters);
    let host = snapshot.sample_records(Some(505));
    // The decoder cannot read 0:2008 (see UNDECODABLE): the agent's host records without it.
    let host_records: Vec<CounterRecord> = host
        .as_slice()
        .iter()
        .filter(|r| r.tag() != UNDECODABLE)
        .copied()
        .collect();
    assert_eq!(host_records.len() + 1, host.as_slice().len());
    let container = container_records();
    let samples = [
        CounterSample {
            sequence: 11,
            source: DataSource { class: 2, index: 1 },
            records: &host_records,
        },
        CounterSample {
            sequence: 12,
            source: DataSource {
                class: 3,
                index: 0x8000_0001,
            },
            records: &container,
        },
    ];
    let header = DatagramHeader {
        agent,
        sub_agent_id: 100000,
        sequence: 0xdead_beef,
        uptime_ms: 0xfeed_f00d,
        num_samples: 2,
    };
    let bytes = encode_datagram(&header, &samples);
    let raw = walk(&bytes);

    let dg = decode(&bytes);
    assert_eq!(dg.version, 5);
    match (dg.agent_address.clone(), agent) {
        (AddressType::IPv4(t), IpAddr::V4(o)) => assert_eq!(t, o),
        (AddressType::IPv6(t), IpAddr::V6(o)) => assert_eq!(t, o),
        (t, o) => panic!("{o} decoded as {t:?}"),
    }
    assert_eq!(
        (dg.sub_agent_id, dg.sequence_number, dg.uptime),
        (header.sub_agent_id, header.sequence, header.uptime_ms)
    );
    let decoded = expanded_counter_samples(&dg);
    assert_eq!(decoded.len(), samples.len());
    for ((ours, theirs), raw) in samples.iter().zip(decoded).zip(&raw) {
        assert_eq!(theirs.sequence_number, ours.sequence);
        assert_eq!(
            (theirs.source_id_type, theirs.source_id_index),
            (ours.source.class, ours.source.index)
        );
        assert_eq!(theirs.records.len(), ours.records.len());
        for ((o, t), r) in ours.records.iter().zip(&theirs.records).zip(raw) {
            assert_eq!(r.tag, o.tag());
            assert_eq!(r.range.len(), o.encoded_len());
            assert_same_record(o, t);
            if let CounterRecord::HostCpu(cpu) = o {
                // The extension flowparser-sflow does not decode: the last 12 body bytes.
                let end = r.range.end;
                assert_eq!(
                    [
                        be32(&bytes, end - 12),
                        be32(&bytes, end - 8),
                        be32(&bytes, end - 4)
                    ],
                    [cpu.cpu_steal, cpu.cpu_guest, cpu.cpu_guest_nice]
                );
            }
        }
    }
}

#[test]
fn round_trip_through_the_independent_decoder_ipv4() {
    round_trip(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)));
}

#[test]
fn round_trip_through_the_independent_decoder_ipv6() {
    round_trip(IpAddr::V6(Ipv6Addr::new(
        0x2001, 0xdb8, 0x1, 0x2, 0x3, 0x4, 0x5, 0x6,
    )));
}

#[test]
fn long_hostname_is_cut_on_a_char_boundary() {
    // 'é' straddles byte 64 of HOSTNAME_TOO_LONG: the cut keeps 63 bytes.
    let e = HOSTNAME_TOO_LONG.find('é').unwrap();
    assert_eq!(e, 63);
    assert_eq!(
        csflowd::wire::cut_str(HOSTNAME_TOO_LONG, 64),
        &HOSTNAME_TOO_LONG[..63]
    );
}
