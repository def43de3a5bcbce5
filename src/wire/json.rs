//! A counter sample as one line of JSON, for the agent's `--print` debugging output.
//!
//! The object has the data source as `"class:index"`, the sample's sequence number and a
//! `"records"` object keyed by the sFlow structure names (`host_descr`, `host_adapters`, ...) in
//! the sample's record order:
//!
//! ```json
//! {"source":"3:108628","sequence":7,"records":{"host_descr":{"hostname":"hsf-a",
//!  "uuid":"520af332-5740-8650-f8f6-7b2c496b528a","machine_type":3,"os_name":2,
//!  "os_release":"6.18.44-fc-v669"},"host_adapters":[{"if_index":2,"mac":"02:42:ac:11:00:02"}],
//!  "virt_cpu":{"state":1,"cpu_time_ms":21,"nr_virt_cpu":1}}}
//! ```
//!
//! Every field of every record is present with the value that goes on the wire: strings as cut to
//! their XDR limit, unknown counters as all ones (4294967295), unknown loads as -1.0. Field names
//! are those of the record structs. A MAC is `"aa:bb:cc:dd:ee:ff"` (or `null` when the adapter has
//! none), a UUID is in the 8-4-4-4-12 hex form. The output never contains a newline.
//!
//! Numbers are written as serde_json wrote them (this writer replaced it, byte for byte): integers
//! in decimal, a load as the shortest decimal that reads back to the same `f32` (`0.36`, `-1.0`,
//! `1e-7`, `1.5e+13`), a non-finite load as `null`. Strings escape `"`, `\\` and control characters only.
//!
//! Unlike the encoder, this path allocates: it is a debugging aid, not the datagram path. Nothing
//! here panics.

use core::fmt::{self, Write as _};

use super::flow::{FlowRecord, FlowSample};
use super::mib2_records::{Mib2Icmp, Mib2Ip, Mib2Tcp, Mib2Udp};
use super::records::{
    Adapter, HostCpu, HostDescr, HostDiskIo, HostMemory, HostParent, IfCounters, NetIo, VirtCpu,
    VirtDiskIo, VirtMemory, VirtNode,
};
use super::xdr::cut_str;
use super::{CounterRecord, CounterSample, HOSTNAME_MAX, OS_RELEASE_MAX, PORT_NAME_MAX};

/// Renders `sample` as one JSON object on one line.
///
/// Writing into a `String` cannot fail; the `Result` keeps the callers' `if let Ok(line)`.
pub fn sample_to_json(sample: &CounterSample<'_>) -> Result<String, fmt::Error> {
    let mut out = String::with_capacity(256 + 160 * sample.records.len());
    write_sample(&mut out, sample);
    Ok(out)
}

/// Appends `sample` to `out` as one JSON object on one line.
pub fn write_sample(out: &mut String, sample: &CounterSample<'_>) {
    let mut o = ObjectWriter::open(out);
    let source = Source(sample.source.class, sample.source.index);
    o.display("source", &source);
    o.integer("sequence", sample.sequence);
    o.key("records");
    let mut records = ObjectWriter::open(o.out);
    for record in sample.records {
        let name = record.name();
        match record {
            CounterRecord::HostDescr(r) => records.object(name, r),
            CounterRecord::HostAdapters(r) => {
                records.key(name);
                records.out.push('[');
                for (i, adapter) in r.adapters.iter().enumerate() {
                    if i > 0 {
                        records.out.push(',');
                    }
                    write_object(records.out, adapter);
                }
                records.out.push(']');
            }
            CounterRecord::HostParent(r) => records.object(name, r),
            CounterRecord::HostCpu(r) => records.object(name, r),
            CounterRecord::HostMemory(r) => records.object(name, r),
            CounterRecord::HostDiskIo(r) => records.object(name, r),
            CounterRecord::HostNetIo(r) => records.object(name, r),
            CounterRecord::VirtNode(r) => records.object(name, r),
            CounterRecord::VirtCpu(r) => records.object(name, r),
            CounterRecord::VirtMemory(r) => records.object(name, r),
            CounterRecord::VirtDiskIo(r) => records.object(name, r),
            CounterRecord::VirtNetIo(r) => records.object(name, r),
            CounterRecord::IfCounters(r) => records.object(name, r),
            CounterRecord::PortName(r) => records.str(name, cut_str(r.name, PORT_NAME_MAX)),
            CounterRecord::Mib2Ip(r) => write_mib2(&mut records, name, &Mib2Ip::FIELDS, &r.0),
            CounterRecord::Mib2Icmp(r) => write_mib2(&mut records, name, &Mib2Icmp::FIELDS, &r.0),
            CounterRecord::Mib2Tcp(r) => write_mib2(&mut records, name, &Mib2Tcp::FIELDS, &r.0),
            CounterRecord::Mib2Udp(r) => write_mib2(&mut records, name, &Mib2Udp::FIELDS, &r.0),
        }
    }
    records.close();
    o.close();
}

/// Renders a flow sample as one JSON object on one line: the sampler's data source, the sample's
/// fields, and its records keyed by structure name (`sampled_header` with the header in hex).
pub fn flow_sample_to_json(sample: &FlowSample<'_>) -> String {
    let mut out = String::with_capacity(256 + 2 * 128);
    let mut o = ObjectWriter::open(&mut out);
    o.display("source", &Source(sample.source.class, sample.source.index));
    o.integer("sequence", sample.sequence);
    o.integer("sampling_rate", sample.sampling_rate);
    o.integer("sample_pool", sample.sample_pool);
    o.integer("drops", sample.drops);
    o.integer("input", sample.input);
    o.integer("output", sample.output);
    o.key("records");
    let mut records = ObjectWriter::open(o.out);
    for record in sample.records {
        records.key(record.name());
        let mut r = ObjectWriter::open(records.out);
        match record {
            FlowRecord::SampledHeader(h) => {
                r.integer("header_protocol", h.protocol);
                r.integer("frame_length", h.frame_length);
                r.integer("stripped", h.stripped);
                r.display("header", &Hex(h.header));
            }
            FlowRecord::ExtendedEntities(e) => {
                r.display("src", &Source(e.src.class, e.src.index));
                r.display("dst", &Source(e.dst.class, e.dst.index));
            }
        }
        r.close();
    }
    records.close();
    o.close();
    out
}

/// A MIB-II group as an object keyed by the kernel's column names.
fn write_mib2(o: &mut ObjectWriter<'_>, name: &str, fields: &[&str], values: &[u32]) {
    o.key(name);
    let mut g = ObjectWriter::open(o.out);
    for (f, v) in fields.iter().zip(values) {
        g.integer(f, v);
    }
    g.close();
}

/// Bytes as lower-case hex digits.
struct Hex<'a>(&'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// A record written as a JSON object, its fields in declaration order.
trait JsonObject {
    fn write_fields(&self, o: &mut ObjectWriter<'_>);
}

fn write_object(out: &mut String, value: &dyn JsonObject) {
    let mut o = ObjectWriter::open(out);
    value.write_fields(&mut o);
    o.close();
}

/// Writes the members of one object: a comma before every key but the first.
struct ObjectWriter<'o> {
    out: &'o mut String,
    first: bool,
}

impl<'o> ObjectWriter<'o> {
    fn open(out: &'o mut String) -> Self {
        out.push('{');
        ObjectWriter { out, first: true }
    }

    fn close(self) {
        self.out.push('}');
    }

    /// A key (plain ASCII, never escaped) and its colon.
    fn key(&mut self, key: &str) {
        if !std::mem::replace(&mut self.first, false) {
            self.out.push(',');
        }
        self.out.push('"');
        self.out.push_str(key);
        self.out.push_str("\":");
    }

    fn integer(&mut self, key: &str, value: impl fmt::Display) {
        self.key(key);
        let _ = write!(self.out, "{value}");
    }

    fn f32(&mut self, key: &str, value: f32) {
        self.key(key);
        write_f32(self.out, value);
    }

    fn str(&mut self, key: &str, value: &str) {
        self.key(key);
        write_str(self.out, value);
    }

    /// A string made by `Display` that needs no escaping (hex digits and separators).
    fn display(&mut self, key: &str, value: &dyn fmt::Display) {
        self.key(key);
        let _ = write!(self.out, "\"{value}\"");
    }

    fn null(&mut self, key: &str) {
        self.key(key);
        self.out.push_str("null");
    }

    fn object(&mut self, key: &str, value: &dyn JsonObject) {
        self.key(key);
        write_object(self.out, value);
    }
}

/// A JSON string: `"`, `\\` and control characters escaped (the short forms where JSON has
/// them, else `\u00XX`), everything else as it is.
fn write_str(out: &mut String, text: &str) {
    out.push('"');
    let mut plain = 0; // start of the bytes not yet written
    for (i, b) in text.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        // `i` is an ASCII byte, so both cuts are on character boundaries.
        out.push_str(text.get(plain..i).unwrap_or(""));
        if escape.is_empty() {
            let _ = write!(out, "\\u{:04x}", b);
        } else {
            out.push_str(escape);
        }
        plain = i + 1;
    }
    out.push_str(text.get(plain..).unwrap_or(""));
    out.push('"');
}

/// An `f32` as the shortest decimal that reads back to it, laid out as serde_json (its `zmij`
/// formatter) did: plain notation with at least one fractional digit when the first digit's
/// decimal exponent is -6 to 12 (`0.000001234`, `1234.5`, `1.0`), else scientific with a signed
/// exponent (`1e-7`, `1.5e+13`). Not finite: `null`.
fn write_f32(out: &mut String, value: f32) {
    if !value.is_finite() {
        out.push_str("null");
        return;
    }
    if value == 0.0 {
        out.push_str(if value.is_sign_negative() {
            "-0.0"
        } else {
            "0.0"
        });
        return;
    }
    // Rust's `{:e}` gives the same shortest digits: `-1.2345e-7`.
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let mut digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    round_half_to_even(&mut digits, value, exponent);
    let length = digits.len() as i32;
    // Position of the decimal point relative to the digits: value = 0.digits × 10^point.
    let point = exponent.parse::<i32>().unwrap_or(0) + 1;
    if negative {
        out.push('-');
    }
    if length <= point && point <= 13 {
        out.push_str(&digits);
        for _ in length..point {
            out.push('0');
        }
        out.push_str(".0");
    } else if 0 < point && point <= 13 {
        let (whole, fraction) = digits.split_at(point as usize);
        out.push_str(whole);
        out.push('.');
        out.push_str(fraction);
    } else if -6 < point && point <= 0 {
        out.push_str("0.");
        for _ in point..0 {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        let exponent = point - 1;
        let sign = if exponent < 0 { '-' } else { '+' };
        let _ = write!(out, "e{sign}{}", exponent.unsigned_abs());
    }
}

/// Where two shortest decimals are exactly as close to `value` (its exact value ends in a 5 just
/// past them), picks the one with the even last digit, as serde_json did; Rust's formatter picks
/// the upper one. The exact value is read from its `f64` form, which is exact for such short
/// decimals. `digits` and `exponent` are Rust's shortest `{:e}` digits and exponent of `value`.
fn round_half_to_even(digits: &mut String, value: f32, exponent: &str) {
    let Some(last) = digits.bytes().last() else {
        return;
    };
    if last % 2 == 0 {
        return; // already even (or the tie, if any, was resolved to it)
    }
    let wide = format!("{:e}", f64::from(value).abs());
    let Some((wide_mantissa, wide_exponent)) = wide.split_once('e') else {
        return;
    };
    let wide_digits: String = wide_mantissa.chars().filter(char::is_ascii_digit).collect();
    let lower = {
        let mut lower = digits.clone();
        lower.pop();
        lower.push(char::from(last - 1));
        lower.push('5');
        lower
    };
    if wide_exponent == exponent && wide_digits == lower {
        digits.pop();
        digits.push(char::from(last - 1));
    }
}

/// A data source as `class:index`.
struct Source(u32, u32);

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.0, self.1)
    }
}

impl JsonObject for HostDescr<'_> {
    fn write_fields(&self, o: &mut ObjectWriter<'_>) {
        o.str("hostname", cut_str(self.hostname, HOSTNAME_MAX));
        o.display("uuid", &Uuid(&self.uuid));
        o.integer("machine_type", self.machine_type);
        o.integer("os_name", self.os_name);
        o.str("os_release", cut_str(self.os_release, OS_RELEASE_MAX));
    }
}

impl JsonObject for Adapter {
    fn write_fields(&self, o: &mut ObjectWriter<'_>) {
        o.integer("if_index", self.if_index);
        match &self.mac {
            Some(mac) => o.display("mac", &Mac(mac)),
            None => o.null("mac"),
        }
    }
}

impl JsonObject for HostParent {
    fn write_fields(&self, o: &mut ObjectWriter<'_>) {
        o.integer("container_type", self.container_type);
        o.integer("container_index", self.container_index);
    }
}

impl JsonObject for HostCpu {
    fn write_fields(&self, o: &mut ObjectWriter<'_>) {
        o.f32("load_one", self.load_one);
        o.f32("load_five", self.load_five);
        o.f32("load_fifteen", self.load_fifteen);
        o.integer("proc_run", self.proc_run);
        o.integer("proc_total", self.proc_total);
        o.integer("cpu_num", self.cpu_num);
        o.integer("cpu_speed", self.cpu_speed);
        o.integer("uptime", self.uptime);
        o.integer("cpu_user", self.cpu_user);
        o.integer("cpu_nice", self.cpu_nice);
        o.integer("cpu_system", self.cpu_system);
        o.integer("cpu_idle", self.cpu_idle);
        o.integer("cpu_wio", self.cpu_wio);
        o.integer("cpu_intr", self.cpu_intr);
        o.integer("cpu_sintr", self.cpu_sintr);
        o.integer("interrupts", self.interrupts);
        o.integer("contexts", self.contexts);
        o.integer("cpu_steal", self.cpu_steal);
        o.integer("cpu_guest", self.cpu_guest);
        o.integer("cpu_guest_nice", self.cpu_guest_nice);
    }
}

impl JsonObject for HostMemory {
    fn write_fields(&self, o: &mut ObjectWriter<'_>) {
        o.integer("mem_total", self.mem_total);
        o.integer("mem_free", self.mem_free);
        o.integer("mem_shared", self.mem_shared);
        o.integer("mem_buffers", self.mem_buffers);
        o.integer("mem_cached", self.mem_cached);
        o.integer("swap_total", self.swap_total);
        o.integer("swap_free", self.swap_free);
        o.integer("page_in", self.page_in);
        o.integer("page_out", self.page_out);
        o.integer("swap_in", self.swap_in);
        o.integer("swap_out", self.swap_out);
    }
}

impl JsonObject for HostDiskIo {
    fn write_fields(&self, o: &mut ObjectWriter<'_>) {
        o.integer("disk_total", self.disk_total);
        o.integer("disk_free", self.disk_free);
        o.integer("part_max_used", self.part_max_used);
        o.integer("reads", self.reads);
        o.integer("bytes_read", self.bytes_read);
        o.integer("read_time", self.read_time);
        o.integer("writes", self.writes);
        o.integer("bytes_written", self.bytes_written);
        o.integer("write_time", self.write_time);
    }
}

impl JsonObject for NetIo {
    fn write_fields(&self, o: &mut ObjectWriter<'_>) {
        o.integer("bytes_in", self.bytes_in);
        o.integer("pkts_in", self.pkts_in);
        o.integer("errs_in", self.errs_in);
        o.integer("drops_in", self.drops_in);
        o.integer("bytes_out", self.bytes_out);
        o.integer("pkts_out", self.pkts_out);
        o.integer("errs_out", self.errs_out);
        o.integer("drops_out", self.drops_out);
    }
}

impl JsonObject for IfCounters {
    fn write_fields(&self, o: &mut ObjectWriter<'_>) {
        o.integer("if_index", self.if_index);
        o.integer("if_type", self.if_type);
        o.integer("if_speed", self.if_speed);
        o.integer("if_direction", self.if_direction);
        o.integer("if_status", self.if_status);
        o.integer("in_octets", self.in_octets);
        o.integer("in_ucast_pkts", self.in_ucast_pkts);
        o.integer("in_multicast_pkts", self.in_multicast_pkts);
        o.integer("in_broadcast_pkts", self.in_broadcast_pkts);
        o.integer("in_discards", self.in_discards);
        o.integer("in_errors", self.in_errors);
        o.integer("in_unknown_protos", self.in_unknown_protos);
        o.integer("out_octets", self.out_octets);
        o.integer("out_ucast_pkts", self.out_ucast_pkts);
        o.integer("out_multicast_pkts", self.out_multicast_pkts);
        o.integer("out_broadcast_pkts", self.out_broadcast_pkts);
        o.integer("out_discards", self.out_discards);
        o.integer("out_errors", self.out_errors);
        o.integer("promiscuous_mode", self.promiscuous_mode);
    }
}

impl JsonObject for VirtNode {
    fn write_fields(&self, o: &mut ObjectWriter<'_>) {
        o.integer("mhz", self.mhz);
        o.integer("cpus", self.cpus);
        o.integer("memory", self.memory);
        o.integer("memory_free", self.memory_free);
        o.integer("num_domains", self.num_domains);
    }
}

impl JsonObject for VirtCpu {
    fn write_fields(&self, o: &mut ObjectWriter<'_>) {
        o.integer("state", self.state);
        o.integer("cpu_time_ms", self.cpu_time_ms);
        o.integer("nr_virt_cpu", self.nr_virt_cpu);
    }
}

impl JsonObject for VirtMemory {
    fn write_fields(&self, o: &mut ObjectWriter<'_>) {
        o.integer("memory", self.memory);
        o.integer("max_memory", self.max_memory);
    }
}

impl JsonObject for VirtDiskIo {
    fn write_fields(&self, o: &mut ObjectWriter<'_>) {
        o.integer("capacity", self.capacity);
        o.integer("allocation", self.allocation);
        o.integer("available", self.available);
        o.integer("rd_req", self.rd_req);
        o.integer("rd_bytes", self.rd_bytes);
        o.integer("wr_req", self.wr_req);
        o.integer("wr_bytes", self.wr_bytes);
        o.integer("errs", self.errs);
    }
}

struct Uuid<'a>(&'a [u8; 16]);

impl fmt::Display for Uuid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, byte) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

struct Mac<'a>(&'a [u8; 6]);

impl fmt::Display for Mac<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, byte) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::testutil::*;
    use crate::wire::{Adapter, DataSource, HostAdapters, HostCpu, HostDescr, NetIo, VirtCpu};
    use serde_json::{json, Value};

    fn render(sample: &CounterSample) -> Value {
        let text = sample_to_json(sample).unwrap();
        assert!(!text.contains('\n'));
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn small_sample_exact_text() {
        let adapters = [Adapter {
            if_index: 2,
            mac: Some([0x02, 0x42, 0xac, 0x11, 0x00, 0x02]),
        }];
        let records = [
            CounterRecord::HostDescr(HostDescr {
                hostname: "hsf-a",
                uuid: [
                    0x52, 0x0a, 0xf3, 0x32, 0x57, 0x40, 0x86, 0x50, 0xf8, 0xf6, 0x7b, 0x2c, 0x49,
                    0x6b, 0x52, 0x8a,
                ],
                machine_type: 3,
                os_name: 2,
                os_release: "6.18.44-fc-v669",
            }),
            CounterRecord::HostAdapters(HostAdapters {
                adapters: &adapters,
            }),
            CounterRecord::VirtCpu(VirtCpu {
                state: 1,
                cpu_time_ms: 21,
                nr_virt_cpu: 1,
            }),
        ];
        let sample = CounterSample {
            sequence: 7,
            source: DataSource {
                class: 3,
                index: 108628,
            },
            records: &records,
        };
        assert_eq!(
            sample_to_json(&sample).unwrap(),
            concat!(
                r#"{"source":"3:108628","sequence":7,"records":{"host_descr":{"hostname":"hsf-a","#,
                r#""uuid":"520af332-5740-8650-f8f6-7b2c496b528a","machine_type":3,"os_name":2,"#,
                r#""os_release":"6.18.44-fc-v669"},"#,
                r#""host_adapters":[{"if_index":2,"mac":"02:42:ac:11:00:02"}],"#,
                r#""virt_cpu":{"state":1,"cpu_time_ms":21,"nr_virt_cpu":1}}}"#
            )
        );
    }

    #[test]
    fn every_record_with_every_field() {
        let mut records = every_record();
        // Unknown values are rendered as sent: all ones.
        records[11] = CounterRecord::VirtNetIo(NetIo::UNKNOWN);
        let sample = CounterSample {
            sequence: 4294967295,
            source: DataSource { class: 2, index: 1 },
            records: &records,
        };
        let net_io = json!({
            "bytes_in": 4294967298u64, "pkts_in": 3, "errs_in": 4, "drops_in": 5,
            "bytes_out": 6000000000u64, "pkts_out": 7, "errs_out": 8, "drops_out": 9,
        });
        let expected = json!({
            "source": "2:1",
            "sequence": 4294967295u32,
            "records": {
                "host_descr": {
                    "hostname": "web-01", "uuid": "00010203-0405-0607-0809-0a0b0c0d0e0f",
                    "machine_type": 3, "os_name": 2, "os_release": "6.1.0-18-amd64",
                },
                "host_adapters": [
                    {"if_index": 2, "mac": "02:42:ac:11:00:02"},
                    {"if_index": 0, "mac": null},
                    {"if_index": 4294967294u32, "mac": "aa:bb:cc:dd:ee:ff"},
                ],
                "host_parent": {"container_type": 2, "container_index": 1},
                "host_cpu": {
                    "load_one": 0.36, "load_five": 0.29, "load_fifteen": 0.13, "proc_run": 1,
                    "proc_total": 112, "cpu_num": 2, "cpu_speed": 2596, "uptime": 4198,
                    "cpu_user": 82320, "cpu_nice": 10, "cpu_system": 47160, "cpu_idle": 8241690,
                    "cpu_wio": 6180, "cpu_intr": 20, "cpu_sintr": 770, "interrupts": 510335,
                    "contexts": 1104658, "cpu_steal": 150, "cpu_guest": 30, "cpu_guest_nice": 40,
                },
                "host_memory": {
                    "mem_total": 25276502016u64, "mem_free": 24038371328u64, "mem_shared": 4096,
                    "mem_buffers": 8609792, "mem_cached": 993419264, "swap_total": 2147483648u64,
                    "swap_free": 2147479552u64, "page_in": 3008649, "page_out": 1970440,
                    "swap_in": 5, "swap_out": 6,
                },
                "host_disk_io": {
                    "disk_total": 270553174016u64, "disk_free": 84181200896u64,
                    "part_max_used": 6888, "reads": 88810, "bytes_read": 3080856576u64,
                    "read_time": 45580, "writes": 17573, "bytes_written": 2017730560u64,
                    "write_time": 11542,
                },
                "host_net_io": net_io,
                "virt_node": {
                    "mhz": 2596, "cpus": 2, "memory": 25276502016u64,
                    "memory_free": 24038371328u64, "num_domains": 3,
                },
                "virt_cpu": {"state": 1, "cpu_time_ms": 15311, "nr_virt_cpu": 1},
                "virt_memory": {"memory": 344064, "max_memory": 67108864},
                "virt_disk_io": {
                    "capacity": 107374182400u64, "allocation": 53687091200u64,
                    "available": 42949672960u64, "rd_req": 21, "rd_bytes": 20975616,
                    "wr_req": 20, "wr_bytes": 20971520, "errs": 1,
                },
                "virt_net_io": {
                    "bytes_in": u64::MAX, "pkts_in": u32::MAX, "errs_in": u32::MAX,
                    "drops_in": u32::MAX, "bytes_out": u64::MAX, "pkts_out": u32::MAX,
                    "errs_out": u32::MAX, "drops_out": u32::MAX,
                },
            }
        });
        assert_eq!(render(&sample), expected);
    }

    #[test]
    fn unknown_loads_are_minus_one() {
        let records = [CounterRecord::HostCpu(HostCpu::UNKNOWN)];
        let sample = CounterSample {
            sequence: 1,
            source: DataSource { class: 2, index: 1 },
            records: &records,
        };
        let text = sample_to_json(&sample).unwrap();
        assert!(text.contains(r#""load_one":-1.0,"load_five":-1.0,"load_fifteen":-1.0,"#));
        assert!(text.contains(r#""cpu_guest_nice":4294967295}"#));
    }

    #[test]
    fn strings_are_escaped_and_cut_as_on_the_wire() {
        let hostname = "q\"b\\s/\n\t\u{0}\u{1f}\u{7f}é€😀\u{2028}";
        let long_release = format!("{}€", "b".repeat(30));
        let records = [CounterRecord::HostDescr(HostDescr {
            hostname,
            uuid: [0; 16],
            machine_type: 0,
            os_name: 0,
            os_release: &long_release,
        })];
        let sample = CounterSample {
            sequence: 1,
            source: DataSource {
                class: 3,
                index: 100000,
            },
            records: &records,
        };
        let value = render(&sample);
        assert_eq!(value["records"]["host_descr"]["hostname"], hostname);
        assert_eq!(value["records"]["host_descr"]["os_release"], "b".repeat(30));
        assert_eq!(
            value["records"]["host_descr"]["uuid"],
            "00000000-0000-0000-0000-000000000000"
        );
    }

    #[test]
    fn floats_are_written_as_serde_json_wrote_them() {
        let mut values = vec![
            0.0f32,
            -0.0,
            1.0,
            -1.0,
            0.36,
            0.29,
            0.13,
            1.5,
            100.0,
            1e12,
            1e13,
            1e14,
            9_999_999.0,
            123_456_790_000.0,
            1e-5,
            1e-6,
            1e-7,
            1.234e-6,
            f32::MAX,
            f32::MIN_POSITIVE,
            1e-45,
            f32::EPSILON,
            3.402_823_5e38,
            0.1,
            0.2,
            0.3,
            16_777_216.0,
        ];
        // Every binade, with scattered mantissas.
        let mut state = 0x9e37_79b9u32;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            values.push(f32::from_bits(state));
        }
        let mut bad = 0;
        for value in values {
            let mut ours = String::new();
            write_f32(&mut ours, value);
            let theirs = serde_json::to_string(&value).unwrap();
            if ours != theirs {
                bad += 1;
                eprintln!("{ours} {theirs} {:e}", value as f64);
            }
        }
        assert_eq!(bad, 0);
        for value in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut ours = String::new();
            write_f32(&mut ours, value);
            assert_eq!(ours, "null");
        }
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escaped_them() {
        let mut every_ascii: String = (0u8..0x80).map(char::from).collect();
        every_ascii.push_str("é€😀\u{2028}\u{fffd}");
        for text in [every_ascii.as_str(), "", "plain", "\"", "a\\b", "\u{1f}x"] {
            let mut ours = String::new();
            write_str(&mut ours, text);
            assert_eq!(ours, serde_json::to_string(text).unwrap(), "{text:?}");
        }
    }
}
