//! Writes the seed corpora under tests/fuzz/seeds/ from the recorded engine answers
//! (tests/fixtures/recorded, tests/fixtures/http) and the configuration fixtures:
//! `cargo run --example make_seeds` from tests/fuzz. Each target gets inputs in the shape it reads
//! (control bytes first where it takes them).

use std::fs;
use std::path::{Path, PathBuf};

use csflowd::http::{Event, Framing, LineSplitter, ResponseDecoder};
use csflowd_fuzz::CONTROL_BYTES;

/// Control bytes for `http_response`: no body limit, 4096-byte lines, assorted piece lengths.
const RESPONSE_CONTROL: [u8; CONTROL_BYTES] = [255, 0x00, 0x10, 7, 0, 200, 13, 64, 3, 255];

fn main() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixtures = fuzz.join("../fixtures");
    let seeds = fuzz.join("seeds");
    let mut count = 0;
    for dir in ["recorded", "http"] {
        for path in files(&fixtures.join(dir), "http") {
            let raw = fs::read(&path).unwrap();
            let name = format!("{dir}-{}", path.file_stem().unwrap().to_string_lossy());
            let mut write = |target: &str, suffix: &str, bytes: &[u8]| {
                let d = seeds.join(target);
                fs::create_dir_all(&d).unwrap();
                fs::write(d.join(format!("{name}{suffix}")), bytes).unwrap();
                count += 1;
            };
            let (head_len, framing, body) = decode(&raw);
            write("http_head", "", &raw[..head_len]);
            write("http_response", "", &[&RESPONSE_CONTROL[..], &raw].concat());
            let (byte, length) = match framing {
                Framing::Chunked => (0, 0),
                Framing::Length(n) => (1, n),
                Framing::UntilClose => (2, 0),
                Framing::NoBody => (3, 0),
            };
            let length = u16::try_from(length).unwrap_or(u16::MAX).to_le_bytes();
            let control = [byte, length[0], length[1], 17, 1, 5, 255, 2, 90, 31];
            write("http_body", "", &[&control[..], &raw[head_len..]].concat());
            if name.contains("events") {
                let control = [0x00, 0x04, 9, 1, 33, 250, 4, 4, 120, 2];
                write("http_lines", "", &[&control[..], &body].concat());
                let mut lines = LineSplitter::new(1 << 20);
                let mut rest = &body[..];
                let mut n = 0;
                while let Some(Ok(line)) = lines.next_line(&mut rest) {
                    if !line.is_empty() {
                        write("docker_event", &format!("-{n}"), line);
                        n += 1;
                    }
                }
            } else if name.contains("inspect") {
                write("docker_inspect", "", &body);
            } else if name.contains("list") || name.contains("containers-json") {
                write("docker_list", "", &[&[3u8][..], &body].concat());
            }
        }
    }
    for dir in ["config", "config/bad"] {
        for path in files(&fixtures.join(dir), "conf") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let d = seeds.join("config_parse");
            fs::create_dir_all(&d).unwrap();
            fs::copy(&path, d.join(format!("{}-{name}", dir.replace('/', "-")))).unwrap();
            count += 1;
        }
    }
    println!("{count} seeds written under {}", seeds.display());
}

/// The files with this extension in `dir`, sorted.
fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    out.sort();
    out
}

/// The head length, framing and de-chunked body of a recorded response.
fn decode(raw: &[u8]) -> (usize, Framing, Vec<u8>) {
    let mut decoder = ResponseDecoder::new(u64::MAX);
    let mut rest = raw;
    let mut head_len = 0;
    let mut framing = Framing::NoBody;
    let mut body = Vec::new();
    while let Ok(Some(event)) = decoder.next(&mut rest) {
        match event {
            Event::Head(head) => {
                head_len = raw.len() - rest.len();
                framing = head.framing;
            }
            Event::Data(data) => body.extend_from_slice(data),
            Event::Done => break,
        }
    }
    (head_len, framing, body)
}
