//! Generates the gRPC client and server of `proto/replica.proto` with tonic's manual builder:
//! the messages are plain prost structs in `src/lib.rs`, so no protoc is needed.

fn main() {
    let method = |name: &str, route: &str, input: &str, output: &str| {
        tonic_build::manual::Method::builder()
            .name(name)
            .route_name(route)
            .input_type(input)
            .output_type(output)
            .codec_path("tonic_prost::ProstCodec")
            .build()
    };
    let service = tonic_build::manual::Service::builder()
        .name("Replica")
        .package("tabula.replica.v1")
        .method(method(
            "append_entries",
            "AppendEntries",
            "crate::RaftMessage",
            "crate::RaftMessage",
        ))
        .method(method(
            "vote",
            "Vote",
            "crate::RaftMessage",
            "crate::RaftMessage",
        ))
        .method(method(
            "install_snapshot",
            "InstallSnapshot",
            "crate::RaftMessage",
            "crate::RaftMessage",
        ))
        .method(method(
            "joined",
            "Joined",
            "crate::RaftMessage",
            "crate::RaftMessage",
        ))
        .method(method(
            "change_members",
            "ChangeMembers",
            "crate::RaftMessage",
            "crate::RaftMessage",
        ))
        .method(method(
            "forward",
            "Forward",
            "crate::ForwardRequest",
            "crate::ForwardReply",
        ))
        .build();
    println!("cargo:rerun-if-changed=build.rs");
    tonic_build::manual::Builder::new().compile(&[service]);
}
