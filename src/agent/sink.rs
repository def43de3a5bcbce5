//! Where every sample goes: the exporter, and standard output with `--print`.
//!
//! The host, the containers and the packet taps hand their samples here and nowhere else, so what `--print` shows is
//! exactly what the collectors get.

use super::exporter::Exporter;
use super::printer::Printer;
use crate::wire::{CounterSample, FlowSample};

/// The one sink of samples.
pub struct Sink {
    /// The datagram packer and sender.
    pub exporter: Exporter,
    /// `--print`.
    pub printer: Option<Printer>,
}

impl Sink {
    /// Queues `sample` for the collectors and prints it with `--print`.
    pub fn send(&mut self, sample: &CounterSample<'_>, now_ms: u64) {
        self.exporter.push(sample, now_ms);
        if let Some(p) = &mut self.printer {
            if let Ok(line) = crate::wire::json::sample_to_json(sample) {
                p.print(&line);
            }
        }
    }

    /// Queues a flow sample for the collectors and prints it with `--print`.
    pub fn send_flow(&mut self, sample: &FlowSample<'_>, now_ms: u64) {
        self.exporter.push(sample, now_ms);
        if let Some(p) = &mut self.printer {
            p.print(&crate::wire::json::flow_sample_to_json(sample));
        }
    }
}
