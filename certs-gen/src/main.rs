//! certs-gen: writes a test PKI made with rcgen — a CA, a server certificate
//! for localhost/127.0.0.1/::1, a client certificate for mTLS, and the broken
//! variants TLS fault tests need — as PEM files.
//!
//! `cargo run -p certs-gen -- --out DIR` (`just certs` writes `fixtures/certs/`).

use std::path::PathBuf;
use std::process::ExitCode;

use redis_harness::tls::{TestPki, FILES};

fn main() -> ExitCode {
    let mut out: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => out = args.next().map(PathBuf::from),
            "-h" | "--help" => {
                print_usage();
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("certs-gen: unknown argument {other}");
                print_usage();
                return ExitCode::from(2);
            }
        }
    }
    let Some(out) = out else {
        eprintln!("certs-gen: --out DIR is required");
        print_usage();
        return ExitCode::from(2);
    };
    let pki = match TestPki::generate() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("certs-gen: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = pki.write_to(&out) {
        eprintln!("certs-gen: writing into {}: {e} — check that the directory is writable", out.display());
        return ExitCode::FAILURE;
    }
    for (name, what) in FILES {
        println!("{}  {what}", out.join(name).display());
    }
    ExitCode::SUCCESS
}

fn print_usage() {
    eprintln!("usage: certs-gen --out DIR\n\nwrites these files into DIR:");
    for (name, what) in FILES {
        eprintln!("  {name:<26} {what}");
    }
}
