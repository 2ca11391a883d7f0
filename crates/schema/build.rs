//! Generates the protobuf types from `proto/` with a pure-Rust compiler (protox), so building
//! auditstream needs no system `protoc`; pbjson adds the canonical proto3 JSON mapping.
use std::path::PathBuf;

use prost::Message;

const FILES: &[&str] = &[
    "auditstream/v1/common.proto",
    "auditstream/v1/raw_event.proto",
    "auditstream/v1/audit.proto",
    "auditstream/v1/collator_state.proto",
    "auditstream/v1/integration_log.proto",
    "auditstream/v1/emitter.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    for f in FILES {
        println!("cargo:rerun-if-changed={}", root.join(f).display());
    }
    let descriptors = protox::compile(FILES, [&root])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptor_path = out.join("auditstream_descriptor.bin");
    std::fs::write(&descriptor_path, descriptors.encode_to_vec())?;

    prost_build::Config::new()
        .file_descriptor_set_path(&descriptor_path)
        .compile_fds(descriptors)?;

    let descriptor_bytes = std::fs::read(&descriptor_path)?;
    pbjson_build::Builder::new()
        .register_descriptors(&descriptor_bytes)?
        .build(&[".auditstream"])?;
    Ok(())
}
