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
//! are those of the record structs, whose `serde::Serialize` this is (`host_adapters` is the array
//! of its adapters). A MAC is `"aa:bb:cc:dd:ee:ff"` (or `null` when the adapter has none), a UUID
//! is in the 8-4-4-4-12 hex form. The output never contains a newline.
//!
//! serde_json writes it: integers in decimal, a load as the shortest decimal that reads back to the
//! same `f32` (`0.36`, `-1.0`, `1e-7`, `1.5e+13`), a non-finite load as `null`; strings escape `"`,
//! `\\` and control characters only.
//!
//! Unlike the encoder, this path allocates: it is a debugging aid, not the datagram path. Nothing
//! here panics.

use core::fmt;

use serde::ser::{Serialize, SerializeMap, SerializeStruct, Serializer};

use super::flow::{FlowRecord, FlowSample};
use super::mib2_records::{Mib2Icmp, Mib2Ip, Mib2Tcp, Mib2Udp};
use super::xdr::cut_str;
use super::{CounterRecord, CounterSample, HOSTNAME_MAX, OS_RELEASE_MAX, PORT_NAME_MAX};

/// Renders `sample` as one JSON object on one line.
///
/// Writing into memory cannot fail; the `Result` keeps the callers' `if let Ok(line)`.
pub fn sample_to_json(sample: &CounterSample<'_>) -> Result<String, fmt::Error> {
    serde_json::to_string(&Sample(sample)).map_err(|_| fmt::Error)
}

/// The sample's object: source, sequence, records.
struct Sample<'s, 'a>(&'s CounterSample<'a>);

impl Serialize for Sample<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let sample = self.0;
        let mut o = serializer.serialize_struct("CounterSample", 3)?;
        o.serialize_field("source", &Source(sample.source.class, sample.source.index))?;
        o.serialize_field("sequence", &sample.sequence)?;
        o.serialize_field("records", &Records(sample.records))?;
        o.end()
    }
}

/// The records as an object keyed by their sFlow names, in the sample's order.
struct Records<'s, 'a>(&'s [CounterRecord<'a>]);

impl Serialize for Records<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for record in self.0 {
            let name = record.name();
            match record {
                CounterRecord::HostDescr(r) => map.serialize_entry(name, r),
                CounterRecord::HostAdapters(r) => map.serialize_entry(name, r),
                CounterRecord::HostParent(r) => map.serialize_entry(name, r),
                CounterRecord::HostCpu(r) => map.serialize_entry(name, r),
                CounterRecord::HostMemory(r) => map.serialize_entry(name, r),
                CounterRecord::HostDiskIo(r) => map.serialize_entry(name, r),
                CounterRecord::HostNetIo(r) => map.serialize_entry(name, r),
                CounterRecord::VirtNode(r) => map.serialize_entry(name, r),
                CounterRecord::VirtCpu(r) => map.serialize_entry(name, r),
                CounterRecord::VirtMemory(r) => map.serialize_entry(name, r),
                CounterRecord::VirtDiskIo(r) => map.serialize_entry(name, r),
                CounterRecord::VirtNetIo(r) => map.serialize_entry(name, r),
                CounterRecord::IfCounters(r) => map.serialize_entry(name, r),
                CounterRecord::PortName(r) => {
                    map.serialize_entry(name, cut_str(r.name, PORT_NAME_MAX))
                }
                CounterRecord::Mib2Ip(r) => map.serialize_entry(name, &Mib2(&Mib2Ip::FIELDS, &r.0)),
                CounterRecord::Mib2Icmp(r) => {
                    map.serialize_entry(name, &Mib2(&Mib2Icmp::FIELDS, &r.0))
                }
                CounterRecord::Mib2Tcp(r) => {
                    map.serialize_entry(name, &Mib2(&Mib2Tcp::FIELDS, &r.0))
                }
                CounterRecord::Mib2Udp(r) => {
                    map.serialize_entry(name, &Mib2(&Mib2Udp::FIELDS, &r.0))
                }
            }?;
        }
        map.end()
    }
}

/// A MIB-II group as an object keyed by the kernel's column names.
struct Mib2<'a>(&'a [&'a str], &'a [u32]);

impl Serialize for Mib2<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len().min(self.1.len())))?;
        for (field, value) in self.0.iter().zip(self.1) {
            map.serialize_entry(field, value)?;
        }
        map.end()
    }
}

/// Renders a flow sample as one JSON object on one line: the sampler's data source, the sample's
/// fields, and its records keyed by structure name (`sampled_header` with the header in hex).
pub fn flow_sample_to_json(sample: &FlowSample<'_>) -> String {
    serde_json::to_string(&Flow(sample)).unwrap_or_default()
}

/// A flow sample's object.
struct Flow<'s, 'a>(&'s FlowSample<'a>);

impl Serialize for Flow<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let f = self.0;
        let mut o = serializer.serialize_struct("FlowSample", 8)?;
        o.serialize_field("source", &Source(f.source.class, f.source.index))?;
        o.serialize_field("sequence", &f.sequence)?;
        o.serialize_field("sampling_rate", &f.sampling_rate)?;
        o.serialize_field("sample_pool", &f.sample_pool)?;
        o.serialize_field("drops", &f.drops)?;
        o.serialize_field("input", &f.input)?;
        o.serialize_field("output", &f.output)?;
        o.serialize_field("records", &FlowRecords(f.records))?;
        o.end()
    }
}

/// A flow sample's records, keyed by their sFlow names.
struct FlowRecords<'s, 'a>(&'s [FlowRecord<'a>]);

impl Serialize for FlowRecords<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for record in self.0 {
            map.serialize_entry(record.name(), &FlowRecordJson(record))?;
        }
        map.end()
    }
}

struct FlowRecordJson<'s, 'a>(&'s FlowRecord<'a>);

impl Serialize for FlowRecordJson<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            FlowRecord::SampledHeader(h) => {
                let mut o = serializer.serialize_struct("sampled_header", 4)?;
                o.serialize_field("header_protocol", &h.protocol)?;
                o.serialize_field("frame_length", &h.frame_length)?;
                o.serialize_field("stripped", &h.stripped)?;
                o.serialize_field("header", &Hex(h.header))?;
                o.end()
            }
            FlowRecord::ExtendedEntities(e) => {
                let mut o = serializer.serialize_struct("extended_entities", 2)?;
                o.serialize_field("src", &Source(e.src.class, e.src.index))?;
                o.serialize_field("dst", &Source(e.dst.class, e.dst.index))?;
                o.end()
            }
        }
    }
}

/// Bytes as lower-case hex digits.
struct Hex<'a>(&'a [u8]);

impl Serialize for Hex<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&HexText(self.0))
    }
}

struct HexText<'a>(&'a [u8]);

impl fmt::Display for HexText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// A data source as the string `class:index`.
struct Source(u32, u32);

impl Serialize for Source {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{}:{}", self.0, self.1))
    }
}

/// `host_descr.hostname` as sent: cut to [`HOSTNAME_MAX`] bytes.
pub(super) fn hostname<S: Serializer>(text: &&str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(cut_str(text, HOSTNAME_MAX))
}

/// `host_descr.os_release` as sent: cut to [`OS_RELEASE_MAX`] bytes.
pub(super) fn os_release<S: Serializer>(text: &&str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(cut_str(text, OS_RELEASE_MAX))
}

/// A UUID in the 8-4-4-4-12 hex form.
pub(super) fn uuid<S: Serializer>(uuid: &[u8; 16], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&Uuid(uuid))
}

/// A MAC as `aa:bb:cc:dd:ee:ff`, or `null`.
pub(super) fn mac<S: Serializer>(mac: &Option<[u8; 6]>, serializer: S) -> Result<S::Ok, S::Error> {
    match mac {
        Some(mac) => serializer.collect_str(&Mac(mac)),
        None => serializer.serialize_none(),
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
    fn loads_are_shortest_decimals_and_non_finite_ones_null() {
        let mut cpu = HostCpu::UNKNOWN;
        (cpu.load_one, cpu.load_five, cpu.load_fifteen) = (1e-7, 1.5e13, f32::NAN);
        let records = [CounterRecord::HostCpu(cpu)];
        let sample = CounterSample {
            sequence: 1,
            source: DataSource { class: 2, index: 1 },
            records: &records,
        };
        let text = sample_to_json(&sample).unwrap();
        assert!(
            text.contains(r#""load_one":1e-7,"load_five":1.5e+13,"load_fifteen":null,"#),
            "{text}"
        );
    }
    #[test]
    fn flow_samples_mib2_and_port_records() {
        use crate::wire::flow::{ExtendedEntities, SampledHeader};
        use crate::wire::PortName;
        let records = [
            FlowRecord::SampledHeader(SampledHeader {
                protocol: 1,
                frame_length: 64,
                stripped: 4,
                header: &[0x00, 0xab, 0xff],
            }),
            FlowRecord::ExtendedEntities(ExtendedEntities {
                src: DataSource {
                    class: 3,
                    index: 100_001,
                },
                dst: DataSource { class: 0, index: 0 },
            }),
        ];
        let sample = FlowSample {
            sequence: 9,
            source: DataSource { class: 0, index: 7 },
            sampling_rate: 400,
            sample_pool: 4000,
            drops: 1,
            input: 7,
            output: 0x3FFF_FFFF,
            records: &records,
        };
        let text = flow_sample_to_json(&sample);
        assert!(!text.contains('\n'));
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["source"], "0:7");
        assert_eq!(v["sampling_rate"], 400);
        assert_eq!(v["output"], 0x3FFF_FFFF);
        assert_eq!(v["records"]["sampled_header"]["header"], "00abff");
        assert_eq!(v["records"]["sampled_header"]["stripped"], 4);
        assert_eq!(v["records"]["extended_entities"]["src"], "3:100001");

        let mut udp = [0u32; Mib2Udp::FIELDS.len()];
        udp[0] = 5;
        let counters = [
            CounterRecord::PortName(PortName { name: "veth1" }),
            CounterRecord::Mib2Udp(Mib2Udp(udp)),
        ];
        let v = render(&CounterSample {
            sequence: 1,
            source: DataSource { class: 0, index: 7 },
            records: &counters,
        });
        let names: Vec<&String> = v["records"].as_object().unwrap().keys().collect();
        assert_eq!(names.len(), 2, "{v}");
        let udp_json = &v["records"][CounterRecord::Mib2Udp(Mib2Udp(udp)).name()];
        assert_eq!(udp_json[Mib2Udp::FIELDS[0]], 5);
    }
}
